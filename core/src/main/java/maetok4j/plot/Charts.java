package maetok4j.plot;

import maetok4j.tensor.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** PNG charts (XChart) for training curves and latent analyses, written atomically. */
public final class Charts {

    public static final int WIDTH = 900;
    public static final int HEIGHT = 560;

    /** One named series of points; x and y have equal length. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values but " + y.length + " y values");
            }
        }

        /** The points whose coordinates are finite and, on log axes, positive. */
        Series plottable(boolean logX, boolean logY) {
            double[] xs = new double[x.length];
            double[] ys = new double[y.length];
            int n = 0;
            for (int i = 0; i < x.length; i++) {
                if (Double.isFinite(x[i]) && Double.isFinite(y[i]) && (!logX || x[i] > 0) && (!logY || y[i] > 0)) {
                    xs[n] = x[i];
                    ys[n++] = y[i];
                }
            }
            return new Series(name, Arrays.copyOf(xs, n), Arrays.copyOf(ys, n));
        }
    }

    /** Axis titles and scales of a chart. */
    public record Axes(String title, String xTitle, String yTitle, boolean logX, boolean logY) {}

    private Charts() {}

    /**
     * A line chart with markers, one line per series; series with fewer than {@code minPoints} plottable points
     * are left out. Returns false, writing nothing, when no series is left.
     */
    public static boolean lines(Path png, Axes axes, List<Series> series, int minPoints, boolean markers) {
        XYChart chart = chart(axes);
        int plotted = 0;
        for (Series s : series) {
            Series p = s.plottable(axes.logX(), axes.logY());
            if (p.x().length >= minPoints && p.x().length > 0) {
                XYSeries added = chart.addSeries(p.name(), p.x(), p.y());
                if (!markers) {
                    added.setMarker(SeriesMarkers.NONE);
                }
                plotted++;
            }
        }
        if (plotted == 0) {
            return false;
        }
        write(chart, png);
        return true;
    }

    /** A scatter plot, one colour per series (e.g. per class). Returns false when there is no point. */
    public static boolean scatter(Path png, Axes axes, List<Series> groups, int markerSize) {
        XYChart chart = chart(axes);
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(markerSize);
        int points = 0;
        for (Series s : groups) {
            Series p = s.plottable(false, false);
            if (p.x().length > 0) {
                chart.addSeries(p.name(), p.x(), p.y());
                points += p.x().length;
            }
        }
        if (points == 0) {
            return false;
        }
        write(chart, png);
        return true;
    }

    /**
     * A bar per category (e.g. a probe's accuracy per class), in the given order; categories whose value is not finite
     * are left out. Returns false, writing nothing, when no bar is left.
     */
    public static boolean bars(Path png, Axes axes, String series, List<String> categories, double[] values) {
        if (categories.size() != values.length) {
            throw new IllegalArgumentException("bars '" + series + "': " + categories.size() + " categories but " + values.length + " values");
        }
        List<String> names = new ArrayList<>();
        List<Double> heights = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            if (Double.isFinite(values[i])) {
                names.add(categories.get(i));
                heights.add(values[i]);
            }
        }
        if (names.isEmpty()) {
            return false;
        }
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(axes.title()).xAxisTitle(axes.xTitle())
                .yAxisTitle(axes.yTitle()).build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisLabelRotation(30);
        chart.addSeries(series, names, heights);
        write(chart, png);
        return true;
    }

    private static XYChart chart(Axes axes) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(axes.title()).xAxisTitle(axes.xTitle())
                .yAxisTitle(axes.yTitle()).build();
        chart.getStyler().setXAxisLogarithmic(axes.logX());
        chart.getStyler().setYAxisLogarithmic(axes.logY());
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setMarkerSize(5);
        return chart;
    }

    private static void write(Chart<?, ?> chart, Path png) {
        AtomicFiles.write(png, tmp -> Files.write(tmp, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG)));
    }
}
