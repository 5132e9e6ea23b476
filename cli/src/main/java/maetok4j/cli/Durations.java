package maetok4j.cli;

import java.util.Locale;

/** Wall times as people read them: "4.2 s", "7 min 32 s", "1 h 05 min". */
final class Durations {

    private Durations() {}

    static String format(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "an unknown time";
        }
        if (seconds < 60) {
            return String.format(Locale.ROOT, "%.1f s", seconds);
        }
        long s = Math.round(seconds);
        if (s < 3600) {
            return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%d h %02d min", s / 3600, (s % 3600) / 60);
    }
}
