package maetok4j.training;

import maetok4j.tensor.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

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
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle("step").build();
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setMarkerSize(3);
        int plotted = 0;
        for (String name : names) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (Map<String, Double> r : rows) {
                Double v = r.get(name);
                if (v != null && Double.isFinite(v) && (!logY || v > 0)) {
                    x.add(r.get("step"));
                    y.add(v);
                }
            }
            if (x.size() >= 2) {
                chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
                plotted++;
            }
        }
        if (plotted == 0) {
            return false;
        }
        AtomicFiles.write(png, tmp -> {
            byte[] bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
            java.nio.file.Files.write(tmp, bytes);
        });
        return true;
    }
}
