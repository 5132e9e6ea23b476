package maetok4j.tokenizer;

import maetok4j.data.Permutations;

import java.util.random.RandomGenerator;

/**
 * MAETok's training-time token masking: one ratio per batch from a normal N(hi, 0.25²) truncated to
 * [lo, hi] (the reference's {@code truncnorm((lo-hi)/0.25, 0, loc=hi, scale=0.25)}), {@code ceil(N*ratio)}
 * patches masked, chosen by an independent random permutation per sample.
 */
public record TokenMasking(double low, double high) {

    static final double SCALE = 0.25;

    public TokenMasking {
        if (!(low >= 0 && low <= high && high < 1)) {
            throw new IllegalArgumentException("mask ratio range must satisfy 0 <= low <= high < 1, got [" + low + ", " + high + "]");
        }
    }

    /** Draws the batch's mask ratio (exactly the truncated normal, by rejection). */
    public double sampleRatio(RandomGenerator rng) {
        if (low == high) {
            return low;
        }
        while (true) {
            double r = high + SCALE * rng.nextGaussian();
            if (r >= low && r <= high) {
                return r;
            }
        }
    }

    /** A mask [batch * n] (row-major [B, N]) with 1 at masked patches, {@code ceil(n * ratio)} per row. */
    public static float[] sampleMask(int batch, int n, double ratio, RandomGenerator rng) {
        int masked = (int) Math.ceil(n * ratio);
        float[] mask = new float[batch * n];
        int[] order = new int[n];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Permutations.shuffle(order, rng);
            for (int i = 0; i < masked; i++) {
                mask[b * n + order[i]] = 1f;
            }
        }
        return mask;
    }

    /** A mask ratio that falls linearly from {@code start} to 0 over {@code steps} (decoder fine-tuning). */
    public static double linearDecay(double start, long step, long steps) {
        if (steps <= 0) {
            return 0;
        }
        return start * Math.max(0, 1 - (double) step / steps);
    }
}
