package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Peak signal-to-noise ratio as the reference evaluation computes it ({@code inference/reconstruct_vq.py}):
 * scikit-image's {@code peak_signal_noise_ratio} per image on [0, 1] floats, where the data range it infers
 * is 1, the mean squared error taken in float64 over all pixels and channels. The per-image values are
 * averaged over images (see {@link ReconstructionMetrics}). Identical images give +∞, as in scikit-image.
 */
public final class Psnr {

    private Psnr() {}

    /** Per-image PSNR in dB of {@code test} against {@code reference}, both [B, C, H, W] in [-1, 1]. */
    public static double[] perImage(NDArray reference, NDArray test) {
        if (!reference.getShape().equals(test.getShape())) {
            throw new IllegalArgumentException("shapes differ: " + reference.getShape() + " vs " + test.getShape());
        }
        int b = (int) reference.getShape().get(0);
        float[] ref = toUnit(reference.toType(DataType.FLOAT32, false).toFloatArray());
        float[] tst = toUnit(test.toType(DataType.FLOAT32, false).toFloatArray());
        int size = ref.length / b;
        double[] out = new double[b];
        for (int i = 0; i < b; i++) {
            out[i] = unitRange(ref, tst, i * size, size);
        }
        return out;
    }

    /** PSNR in dB, data range 1, of {@code length} values of two [0, 1] images starting at {@code offset}. */
    public static double unitRange(float[] truth, float[] test, int offset, int length) {
        double se = 0;
        for (int i = offset; i < offset + length; i++) {
            double d = (double) truth[i] - test[i];
            se += d * d;
        }
        return 10 * Math.log10(1.0 / (se / length));
    }

    /** [-1, 1] to [0, 1] in float32 arithmetic, as the reference maps its ground truth ({@code (x + 1)/2}). */
    static float[] toUnit(float[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (v[i] + 1f) / 2f;
        }
        return out;
    }
}
