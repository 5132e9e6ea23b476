package maetok4j.training;

import maetok4j.tensor.ProcessMemory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The steps between two rows of {@code metrics.jsonl}: each logged row holds the mean of every per-step term
 * since the previous row (a row per step would be noise, a single step's value a sample of it), the window's
 * throughput, and the process's memory. Shared by every trainer, so their logs read alike.
 */
public final class LogWindow {

    private final String throughputKey;
    private final Map<String, Double> sums = new LinkedHashMap<>();
    private int steps;
    private long samples;
    private long start = System.nanoTime();
    private long peakRss;

    /** @param throughputKey the name of the samples-per-second column, e.g. {@code img_per_s} */
    public LogWindow(String throughputKey) {
        this.throughputKey = throughputKey;
    }

    /** One finished step's terms and the number of samples (images, latents) it trained on. */
    public void add(Map<String, Double> terms, long stepSamples) {
        terms.forEach((k, v) -> sums.merge(k, v, Double::sum));
        steps++;
        samples += stepSamples;
    }

    /** Steps added since the last row. */
    public int steps() {
        return steps;
    }

    /**
     * The row for the window: each term's mean, then the throughput, {@code rss_mb} and {@code heap_mb}; a new
     * window starts. A caller that evaluates or writes files after this calls {@link #restartClock} when done, so
     * that time is not counted as training.
     */
    public Map<String, Double> row() {
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Double> row = new LinkedHashMap<>();
        int n = Math.max(1, steps);
        sums.forEach((k, v) -> row.put(k, v / n));
        row.put(throughputKey, samples / seconds);
        long rss = ProcessMemory.rssBytes();
        peakRss = Math.max(peakRss, rss);
        row.put("rss_mb", rss / 1e6);
        Runtime rt = Runtime.getRuntime();
        row.put("heap_mb", (rt.totalMemory() - rt.freeMemory()) / 1e6);
        sums.clear();
        steps = 0;
        samples = 0;
        start = System.nanoTime();
        return row;
    }

    /** Restarts the window's clock (after an evaluation, a checkpoint or plots). */
    public void restartClock() {
        start = System.nanoTime();
    }

    /** The largest resident set size seen in any row. */
    public long peakRssBytes() {
        return peakRss;
    }
}
