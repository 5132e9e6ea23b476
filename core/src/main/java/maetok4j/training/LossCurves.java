package maetok4j.training;

import maetok4j.plot.Charts;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** PNG plots of a run's logged values against the step, one line per series. */
public final class LossCurves {

    private LossCurves() {}

    /**
     * Plots every series of {@code rows} whose name passes {@code include} (values ≤ 0 are skipped on a log
     * axis); nothing is written when no series has two points.
     */
    public static boolean write(Path png, String title, List<Map<String, Double>> rows, java.util.function.Predicate<String> include,
            boolean logY) {
        Set<String> names = new LinkedHashSet<>();
        rows.forEach(r -> r.keySet().stream().filter(k -> !k.equals("step") && include.test(k)).forEach(names::add));
        List<Charts.Series> series = new ArrayList<>();
        for (String name : names) {
            List<Map<String, Double>> logged = rows.stream().filter(r -> r.get(name) != null).toList();
            series.add(new Charts.Series(name, logged.stream().mapToDouble(r -> r.get("step")).toArray(),
                    logged.stream().mapToDouble(r -> r.get(name)).toArray()));
        }
        return Charts.lines(png, new Charts.Axes(title, "step", "", false, logY), series, 2, false);
    }
}
