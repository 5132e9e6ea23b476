package maetok4j.tensor;

import com.sun.jna.Native;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * oneDNN reads its instruction-set limit from the C environment when it first runs, so {@link Engines#configure()}
 * must leave it there. The test runner exports the variable itself, so each case starts a JVM of its own.
 */
@EnabledOnOs(value = OS.LINUX, architectures = {"amd64", "x86_64"})
class EnginesTest {

    /** Calls {@link Engines#configure()} and prints what the C library's {@code getenv} then sees. */
    public static final class Probe {
        public static void main(String[] args) {
            Engines.configure();
            System.out.print(Native.load("c", Engines.CLibrary.class).getenv(Engines.ONEDNN_ISA_VARIABLE));
        }
    }

    private static String probe(String userValue) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                Probe.class.getName()));
        pb.environment().remove(Engines.ONEDNN_ISA_VARIABLE);
        if (userValue != null) {
            pb.environment().put(Engines.ONEDNN_ISA_VARIABLE, userValue);
        }
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        return out;
    }

    @Test
    void configureLimitsOneDnnToAvxWhenTheUserHasNotChosen() throws Exception {
        assertThat(probe(null)).isEqualTo(Engines.ONEDNN_ISA);
    }

    @Test
    void aLimitTheUserSetStands() throws Exception {
        assertThat(probe("ALL")).isEqualTo("ALL");
    }
}
