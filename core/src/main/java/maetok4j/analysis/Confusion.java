package maetok4j.analysis;

/**
 * A confusion matrix, {@code counts[true class][predicted class]}: accuracy and per-class recall of any classifier
 * (a linear probe on latents, a domain classifier on generated images).
 */
public record Confusion(long[][] counts) {

    public Confusion {
        for (long[] row : counts) {
            if (row.length != counts.length) {
                throw new IllegalArgumentException("a confusion matrix is square, got a row of " + row.length + " in " + counts.length);
            }
        }
    }

    /** Counts predictions against the truth; both in [0, classes). */
    public static Confusion of(long[] truth, long[] predicted, int classes) {
        if (truth.length != predicted.length) {
            throw new IllegalArgumentException(truth.length + " labels for " + predicted.length + " predictions");
        }
        long[][] counts = new long[classes][classes];
        for (int i = 0; i < truth.length; i++) {
            if (truth[i] < 0 || truth[i] >= classes || predicted[i] < 0 || predicted[i] >= classes) {
                throw new IllegalArgumentException("label " + truth[i] + " or prediction " + predicted[i] + " outside [0, " + classes + ")");
            }
            counts[(int) truth[i]][(int) predicted[i]]++;
        }
        return new Confusion(counts);
    }

    /** The largest logit of each row of {@code logits} [n, k] (the first on ties). */
    public static long[] argmax(float[] logits, int k) {
        long[] out = new long[logits.length / k];
        for (int b = 0; b < out.length; b++) {
            int best = 0;
            for (int c = 1; c < k; c++) {
                if (logits[b * k + c] > logits[b * k + best]) {
                    best = c;
                }
            }
            out[b] = best;
        }
        return out;
    }

    public int classes() {
        return counts.length;
    }

    public long total() {
        long n = 0;
        for (long[] row : counts) {
            for (long v : row) {
                n += v;
            }
        }
        return n;
    }

    /** The share of rows predicted right (NaN when empty). */
    public double accuracy() {
        long right = 0;
        for (int c = 0; c < counts.length; c++) {
            right += counts[c][c];
        }
        long n = total();
        return n == 0 ? Double.NaN : (double) right / n;
    }

    /** Per-class recall (NaN for a class with no row). */
    public double[] classAccuracy() {
        double[] out = new double[counts.length];
        for (int c = 0; c < counts.length; c++) {
            long total = 0;
            for (long v : counts[c]) {
                total += v;
            }
            out[c] = total == 0 ? Double.NaN : (double) counts[c][c] / total;
        }
        return out;
    }
}
