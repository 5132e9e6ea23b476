package maetok4j.metrics;

/**
 * Inception Score (Salimans et al. 2016), IS = exp(E_x KL(p(y|x) ‖ p(y))), from classifier logits [N, K]:
 * within each split of the rows, p(y) is the split's mean of the softmax p(y|x); the score of each split is
 * averaged, and the spread over splits reported.
 *
 * <p>Follows the formula of the ADM evaluator's {@code compute_inception_score} (guided-diffusion
 * {@code evaluations/evaluator.py}, itself from openai/improved-gan) and torch-fidelity's
 * {@code isc_features_to_metric}, computed in float64 from log-softmax (so no probability underflows to a
 * log of 0; a class whose probability is 0 in every row of a split contributes 0). Two split conventions,
 * see {@link Splits}: a count (torch-fidelity's {@code isc_splits}, default 10; torch-fidelity first shuffles
 * the rows with a fixed seed, this does not) or a size (the ADM evaluator's {@code split_size=5000}, whose
 * last split may be shorter). For 50,000 rows, 10 splits and splits of 5000 are the same rows. The ADM
 * evaluator reports only the mean.
 */
public final class InceptionScore {

    private InceptionScore() {}

    /**
     * How rows are split. {@link #count(int)}: {@code count} contiguous splits, split i being rows
     * [i·N/count, (i+1)·N/count) (floor division, as torch-fidelity). {@link #size(int)}: contiguous splits of
     * {@code size} rows, the last one holding the remainder (as the ADM evaluator).
     */
    public record Splits(int count, int size) {

        /** torch-fidelity's default: 10 splits. */
        public static final Splits DEFAULT = count(10);

        public Splits {
            if ((count > 0) == (size > 0) || count < 0 || size < 0) {
                throw new IllegalArgumentException("exactly one of count and size must be positive, got count " + count
                        + ", size " + size);
            }
        }

        public static Splits count(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("split count must be positive, got " + count);
            }
            return new Splits(count, 0);
        }

        public static Splits size(int size) {
            if (size < 1) {
                throw new IllegalArgumentException("split size must be positive, got " + size);
            }
            return new Splits(0, size);
        }

        /** The first row of each split of {@code rows} rows, then {@code rows}: splits + 1 increasing values. */
        long[] boundaries(int rows) {
            int n = count > 0 ? count : (rows + size - 1) / size;
            if (count > rows) {
                throw new IllegalArgumentException(count + " splits need at least as many rows, got " + rows);
            }
            long[] b = new long[n + 1];
            for (int i = 0; i <= n; i++) {
                b[i] = count > 0 ? (long) i * rows / count : Math.min((long) i * size, rows);
            }
            return b;
        }
    }

    /**
     * @param mean mean over splits of the per-split scores
     * @param std population standard deviation over splits ({@code np.std}, as torch-fidelity)
     * @param perSplit the score of each split, in row order
     */
    public record Result(double mean, double std, double[] perSplit) {

        public Result {
            if (perSplit.length == 0) {
                throw new IllegalArgumentException("an Inception Score needs at least one split");
            }
            perSplit = perSplit.clone();
        }

        @Override
        public double[] perSplit() {
            return perSplit.clone();
        }
    }

    /** The Inception Score of {@code logits} [rows, classes] row-major with {@link Splits#DEFAULT}. */
    public static Result compute(float[] logits, int rows, int classes) {
        return compute(logits, rows, classes, Splits.DEFAULT);
    }

    /** The Inception Score of {@code logits} [rows, classes] row-major. */
    public static Result compute(float[] logits, int rows, int classes, Splits splits) {
        if (rows < 1 || classes < 2) {
            throw new IllegalArgumentException("need at least 1 row and 2 classes, got " + rows + " rows, " + classes + " classes");
        }
        if (logits.length != (long) rows * classes) {
            throw new IllegalArgumentException("logits must be [" + rows + ", " + classes + "] = " + (long) rows * classes
                    + " values, got " + logits.length);
        }
        for (float v : logits) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("logits have a non-finite value " + v);
            }
        }
        long[] b = splits.boundaries(rows);
        double[] scores = new double[b.length - 1];
        for (int s = 0; s < scores.length; s++) {
            scores[s] = splitScore(logits, (int) b[s], (int) b[s + 1], classes);
        }
        double mean = 0;
        for (double v : scores) {
            mean += v;
        }
        mean /= scores.length;
        double var = 0;
        for (double v : scores) {
            var += (v - mean) * (v - mean);
        }
        return new Result(mean, Math.sqrt(var / scores.length), scores);
    }

    /** exp(mean over rows [from, to) of KL(p(y|x) ‖ p(y))), p(y) the rows' mean softmax. */
    static double splitScore(float[] logits, int from, int to, int classes) {
        int n = to - from;
        double[] logP = new double[n * classes]; // [n, K] log-softmax
        double[] marginal = new double[classes]; // p(y) [K]
        for (int r = 0; r < n; r++) {
            int o = (from + r) * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, logits[o + c]);
            }
            double z = 0;
            for (int c = 0; c < classes; c++) {
                z += Math.exp(logits[o + c] - max);
            }
            double logZ = max + Math.log(z);
            for (int c = 0; c < classes; c++) {
                double lp = logits[o + c] - logZ;
                logP[r * classes + c] = lp;
                marginal[c] += Math.exp(lp);
            }
        }
        double[] logMarginal = new double[classes];
        for (int c = 0; c < classes; c++) {
            logMarginal[c] = Math.log(marginal[c] / n);
        }
        double kl = 0;
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < classes; c++) {
                double lp = logP[r * classes + c];
                double p = Math.exp(lp);
                if (p > 0) {
                    kl += p * (lp - logMarginal[c]);
                }
            }
        }
        return Math.exp(kl / n);
    }
}
