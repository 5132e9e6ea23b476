package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.data.ImageTensors;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * How gracefully a tokenizer's decoder treats latents that are not exactly an encoder's output: the premise of
 * VMAE (a smooth latent space is easier for diffusion, whose samples are never exact encodings).
 *
 * <ul>
 *   <li>Noise robustness, the LDMAE evaluation's {@code --epsilon} test: decode {@code z + σ·ε·std} with
 *       ε ~ N(0, 1) and {@code std} the latents' per-channel standard deviation, and score it against the image
 *       (PSNR/SSIM in the reference protocol) and against the clean reconstruction. The same ε serves every σ,
 *       so the curves differ only by σ.</li>
 *   <li>Interpolation: decode {@code (1−t)·z_a + t·z_b} between two images' latents. Beside the strip, the
 *       path ratio sums the RMS pixel change between consecutive frames and divides it by the RMS change
 *       between the two ends: 1 when the frames move straight from one image to the other, larger when the
 *       path wanders through unrelated pictures.</li>
 * </ul>
 */
public final class Smoothness {

    /** Scores at one noise level; at σ = 0 {@code psnrToClean} is above 100 dB (float rounding only). */
    public record Point(double sigma, double psnr, double ssim, double psnrToClean, double ssimToClean) {}

    /** One interpolation: the decoded frames [steps, 3, S, S] in [-1, 1], and the path ratio. */
    public record Interpolation(NDArray frames, double pathRatio) {}

    private Smoothness() {}

    /**
     * The noise sweep over {@code images} [n, 3, S, S] (in batches of {@code batchSize}); {@code channelStd}
     * holds one std per latent channel ({@link Tokenizer#latentChannelAxis()}). ε comes from {@code seed}.
     * {@code onImages} hears of every image done.
     */
    public static List<Point> noiseSweep(Tokenizer tokenizer, NDArray images, double[] sigmas, double[] channelStd, long seed,
            int batchSize, IntConsumer onImages) {
        long[] latent = tokenizer.latentShape();
        int axis = tokenizer.latentChannelAxis();
        if (channelStd.length != latent[axis]) {
            throw new IllegalArgumentException("latent std has " + channelStd.length + " channels, the tokenizer's latents "
                    + latent[axis] + " (shape " + Arrays.toString(latent) + ")");
        }
        for (double s : sigmas) {
            if (!(s >= 0) || !Double.isFinite(s)) {
                throw new IllegalArgumentException("noise levels must be finite and ≥ 0, got " + s);
            }
        }
        int n = (int) images.getShape().get(0);
        List<ReconstructionMetrics> toImage = new ArrayList<>();
        List<ReconstructionMetrics> toClean = new ArrayList<>();
        for (int i = 0; i < sigmas.length; i++) {
            toImage.add(new ReconstructionMetrics());
            toClean.add(new ReconstructionMetrics());
        }
        SplittableRandom rng = new SplittableRandom(seed);
        NDManager owner = images.getManager();
        for (int first = 0; first < n; first += batchSize) {
            int count = Math.min(batchSize, n - first);
            try (NDManager scope = owner.newSubManager()) {
                NDArray x = images.get(first + ":" + (first + count)); // [b, 3, S, S]
                x.attach(scope);
                NDArray z = tokenizer.encode(x); // [b, ...latent]
                // the clean reconstruction as the picture a user sees (8-bit), so σ = 0 compares equal
                NDArray clean = ImageTensors.quantize(tokenizer.decode(z));
                NDArray scaledNoise = gaussian(rng, z.getShape(), scope).mul(channelScale(channelStd, latent, axis, scope));
                for (int i = 0; i < sigmas.length; i++) {
                    try (NDManager step = scope.newSubManager()) {
                        NDArray noisy = z.add(scaledNoise.mul(OwnedArrays.of(step, new float[] {(float) sigmas[i]}, new Shape())));
                        noisy.attach(step);
                        NDArray y = tokenizer.decode(noisy);
                        toImage.get(i).add(x, y);
                        toClean.get(i).add(clean, y);
                    }
                }
            }
            onImages.accept(count);
        }
        List<Point> out = new ArrayList<>();
        for (int i = 0; i < sigmas.length; i++) {
            out.add(new Point(sigmas[i], toImage.get(i).psnr(), toImage.get(i).ssim(), toClean.get(i).psnr(), toClean.get(i).ssim()));
        }
        return out;
    }

    /**
     * Decodes {@code steps} evenly spaced points from image {@code a}'s latent to {@code b}'s ([1, 3, S, S] each,
     * t from 0 to 1 inclusive). The frames belong to {@code a}'s manager.
     */
    public static Interpolation interpolate(Tokenizer tokenizer, NDArray a, NDArray b, int steps) {
        if (steps < 2) {
            throw new IllegalArgumentException("an interpolation needs at least 2 steps, got " + steps);
        }
        NDManager owner = a.getManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray za = tokenizer.encode(a); // [1, ...latent]
            NDArray zb = tokenizer.encode(b);
            za.attach(scope);
            zb.attach(scope);
            float[] t = new float[steps];
            for (int i = 0; i < steps; i++) {
                t[i] = (float) i / (steps - 1);
            }
            long[] ts = new long[za.getShape().dimension()];
            Arrays.fill(ts, 1);
            ts[0] = steps;
            NDArray weights = OwnedArrays.of(scope, t, new Shape(ts)); // [steps, 1, ...]
            NDArray path = za.mul(weights.neg().add(OwnedArrays.of(scope, new float[] {1f}, new Shape()))).add(zb.mul(weights));
            NDArray frames = tokenizer.decode(path); // [steps, 3, S, S]
            frames.attach(owner);
            float[] f = frames.toType(DataType.FLOAT32, false).toFloatArray();
            int size = f.length / steps;
            double walked = 0;
            for (int i = 1; i < steps; i++) {
                walked += rms(f, (i - 1) * size, i * size, size);
            }
            double direct = rms(f, 0, (steps - 1) * size, size);
            return new Interpolation(frames, direct > 0 ? walked / direct : Double.NaN);
        }
    }

    private static double rms(float[] f, int a, int b, int size) {
        double s = 0;
        for (int i = 0; i < size; i++) {
            double d = f[a + i] - f[b + i];
            s += d * d;
        }
        return Math.sqrt(s / size);
    }

    /** The per-channel std shaped to broadcast over a latent batch: [1, ...] with the channels on their axis. */
    private static NDArray channelScale(double[] channelStd, long[] latent, int axis, NDManager manager) {
        long[] shape = new long[latent.length + 1];
        Arrays.fill(shape, 1);
        shape[axis + 1] = channelStd.length;
        float[] v = new float[channelStd.length];
        for (int c = 0; c < v.length; c++) {
            v[c] = (float) channelStd[c];
        }
        return OwnedArrays.of(manager, v, new Shape(shape));
    }

    private static NDArray gaussian(SplittableRandom rng, Shape shape, NDManager manager) {
        float[] e = new float[(int) shape.size()];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) rng.nextGaussian();
        }
        return OwnedArrays.of(manager, e, shape);
    }
}
