package maetok4j.tensor;

/**
 * Makes DJL start without touching the network. DJL reads these settings when its engine class first
 * loads, so every entry point (launcher, tests, library users) calls {@link #configure()} before any
 * DJL class is used; the launcher and the test runner also pass them on the command line.
 */
public final class Engines {
    private Engines() {}

    /** Applies offline mode, the tracking opt-out and the native-library cache directory, unless already set. */
    public static void configure() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
        String cache = System.getProperty("user.home") + "/.cache/maetok4j/djl";
        setIfAbsent("DJL_CACHE_DIR", cache);
        setIfAbsent("ENGINE_CACHE_DIR", cache);
        setIfAbsent("jna.tmpdir", cache + "/jna");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }
}
