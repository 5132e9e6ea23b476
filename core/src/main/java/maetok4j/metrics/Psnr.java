package maetok4j.metrics;

import ai.djl.ndarray.NDArray;

/**
 * Peak signal-to-noise ratio as the reference evaluations compute it (scikit-image's
 * {@code peak_signal_noise_ratio} on images mapped from [-1, 1] to [0, 1], data range 1), per image.
 */
public final class Psnr {

    private Psnr() {}

    /** Per-image PSNR in dB of {@code test} against {@code reference}, both [B, C, H, W] in [-1, 1]. */
    public static double[] perImage(NDArray reference, NDArray test) {
        if (!reference.getShape().equals(test.getShape())) {
            throw new IllegalArgumentException("shapes differ: " + reference.getShape() + " vs " + test.getShape());
        }
        long b = reference.getShape().get(0);
        // (x+1)/2 - (y+1)/2 = (x-y)/2, so the [0, 1] squared error is a quarter of the [-1, 1] one.
        double[] mse = reference.sub(test).square().reshape(b, -1).mean(new int[] {1}).mul(0.25f)
                .toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
        double[] out = new double[mse.length];
        for (int i = 0; i < mse.length; i++) {
            out[i] = 10 * Math.log10(1.0 / mse[i]);
        }
        return out;
    }
}
