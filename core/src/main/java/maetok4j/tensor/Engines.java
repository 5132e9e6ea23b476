package maetok4j.tensor;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;

/**
 * Makes DJL start without touching the network and with convolutions that compute right. DJL reads these
 * settings when its engine class first loads, and oneDNN when it first runs, so every entry point (launcher,
 * tests, library users) calls {@link #configure()} before any DJL class is used; the launcher and the test
 * runner also pass them on the command line or in the environment.
 */
public final class Engines {
    private static final Logger LOG = LoggerFactory.getLogger(Engines.class);

    private Engines() {}

    /**
     * The widest instruction set oneDNN (libtorch's convolution and GELU backend) may use, unless the user sets
     * {@value #ONEDNN_ISA_VARIABLE} themselves. On an AVX-512 AMD EPYC virtual machine (no cache topology
     * reported) libtorch 2.7.1's oneDNN 3.7.1 AVX2 and AVX-512 kernels made gradients elsewhere in a training step
     * wrong or NaN, always at AVX2 and now and then at AVX-512, while every test passed at AVX and below; the
     * same tests passed on an AVX2-only EPYC at full width. Matrix products (MKL) and ATen's own kernels are not
     * affected; convolution-heavy training runs 1.4 to 2.3 times slower (README, Training).
     */
    public static final String ONEDNN_ISA = "AVX";
    public static final String ONEDNN_ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA";

    private static boolean isaApplied;

    /**
     * Applies offline mode, the tracking opt-out, the native-library cache directory and the oneDNN instruction
     * set, each unless already set.
     */
    public static void configure() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
        String cache = System.getProperty("user.home") + "/.cache/maetok4j/djl";
        setIfAbsent("DJL_CACHE_DIR", cache);
        setIfAbsent("ENGINE_CACHE_DIR", cache);
        setIfAbsent("jna.tmpdir", cache + "/jna");
        limitOneDnnIsa();
    }

    /** The C library's environment: oneDNN reads its settings from there, not from Java's copy. */
    interface CLibrary extends Library {
        int setenv(String name, String value, int overwrite);

        String getenv(String name);
    }

    private static synchronized void limitOneDnnIsa() {
        if (isaApplied) {
            return;
        }
        isaApplied = true;
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64");
        if (!x86 || os.startsWith("windows") || System.getenv(ONEDNN_ISA_VARIABLE) != null
                || System.getenv("DNNL_MAX_CPU_ISA") != null) {
            return;
        }
        try {
            Native.load("c", CLibrary.class).setenv(ONEDNN_ISA_VARIABLE, ONEDNN_ISA, 0);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            // The launcher and the test runner export the variable themselves; a library user is told how.
            LOG.warn("could not set {}={} for oneDNN ({}); set it in the environment before starting Java",
                    ONEDNN_ISA_VARIABLE, ONEDNN_ISA, e.getMessage());
        }
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }
}
