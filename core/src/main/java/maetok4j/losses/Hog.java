package maetok4j.losses;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * MAETok's HOG target (the reference's {@code HOGGenerator}, from MaskFeat): per RGB channel, Sobel
 * gradients on the reflect-padded image, magnitudes weighted by a tiled 16×16 Gaussian window and
 * accumulated into 9 unsigned-orientation bins over 8×8 cells, L2-normalised over the bins, then grouped
 * per patch token. The reference always uses a 16×16 token grid; here a token covers {@code patch/8}
 * cells per side, which is the same at the reference's sizes (patch 16 at 256 px, patch 8 at 128 px).
 */
public final class Hog {

    public static final int BINS = 9;
    public static final int CELL = 8;
    public static final int WINDOW = 16;

    private Hog() {}

    /**
     * Features per token: 3 channels × 9 bins × (patch/8)² cells; a patch smaller than a cell (4 or 2 px,
     * for small images) takes the 27 features of the cell that contains it.
     */
    public static int featuresPerToken(int patchSize) {
        int u = Math.max(1, patchSize / CELL);
        return 3 * BINS * u * u;
    }

    /** images [B, 3, H, W] in [-1, 1] (H = W, a multiple of 16 and of the patch) → [B, (H/patch)², 27·(patch/8)²]. */
    public static NDArray features(NDArray images, int patchSize) {
        Shape s = images.getShape();
        long b = s.get(0);
        int h = (int) s.get(2);
        int w = (int) s.get(3);
        boolean patchOk = patchSize > 0 && (patchSize % CELL == 0 || CELL % patchSize == 0);
        if (s.dimension() != 4 || s.get(1) != 3 || h != w || h % WINDOW != 0 || !patchOk || h % patchSize != 0) {
            throw new IllegalArgumentException("HOG needs square images [B, 3, H, H] with H a multiple of " + WINDOW
                    + " and of the patch size, and a patch size that is a multiple or a divisor of " + CELL + "; got " + s + ", patch " + patchSize);
        }
        NDManager m = images.getManager();
        NDArray padded = reflectPad1(images);
        NDArray kx = OwnedArrays.of(m, new float[] {1, 0, -1, 2, 0, -2, 1, 0, -1}, new Shape(1, 1, 3, 3)).repeat(0, 3);
        NDArray ky = kx.transpose(0, 1, 3, 2);
        NDArray gx = conv(padded, kx); // [B, 3, H, W]
        NDArray gy = conv(padded, ky);
        NDArray magnitude = gx.square().add(gy.square()).sqrt().mul(window(m, h / WINDOW));
        NDArray phase = gx.atan2(gy).div(Math.PI).mul(BINS); // in [-9, 9]
        NDArray bins = phase.floor().toType(DataType.INT64, false).mod(BINS); // non-negative remainder
        NDArray hist = bins.oneHot(BINS, DataType.FLOAT32).mul(magnitude.expandDims(4)); // [B, 3, H, W, 9]
        int cells = h / CELL;
        hist = hist.reshape(b, 3, cells, CELL, cells, CELL, BINS).sum(new int[] {3, 5}); // [B, 3, Hc, Wc, 9]
        NDArray norm = OwnedArrays.maximum(hist.norm(new int[] {4}, true), 1e-12);
        hist = hist.div(norm).transpose(0, 1, 4, 2, 3); // [B, 3, 9, Hc, Wc]
        if (patchSize < CELL) {
            int r = CELL / patchSize;
            return hist.reshape(b, 3 * BINS, cells, 1, cells, 1).repeat(3, r).repeat(5, r) // [B, 27, Hc, r, Wc, r]
                    .transpose(0, 2, 3, 4, 5, 1).reshape(b, (long) cells * r * cells * r, 3L * BINS);
        }
        int u = patchSize / CELL;
        int g = cells / u;
        return hist.reshape(b, 3 * BINS, g, u, g, u).transpose(0, 2, 4, 1, 3, 5).reshape(b, (long) g * g, 3L * BINS * u * u);
    }

    private static NDArray conv(NDArray x, NDArray kernel) {
        return ai.djl.nn.convolutional.Conv2d.conv2d(x, kernel, null, new Shape(1, 1), new Shape(0, 0), new Shape(1, 1), 3)
                .singletonOrThrow();
    }

    /** Reflect padding by one pixel on each side of the last two axes (the border row/column is not repeated). */
    static NDArray reflectPad1(NDArray x) {
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        x = NDArrays.concat(new NDList(x.get(new NDIndex(":, :, 1:2")), x, x.get(new NDIndex(":, :, {}:{}", h - 2, h - 1))), 2);
        return NDArrays.concat(new NDList(x.get(new NDIndex(":, :, :, 1:2")), x, x.get(new NDIndex(":, :, :, {}:{}", w - 2, w - 1))), 3);
    }

    /** The 16×16 Gaussian window (std 8, normalised to sum 1), tiled {@code repeat}×{@code repeat} times. */
    static NDArray window(NDManager m, int repeat) {
        float[] w1 = new float[WINDOW];
        for (int i = 0; i < WINDOW; i++) {
            float n = (i - (WINDOW - 1) / 2f) / (WINDOW / 2f);
            w1[i] = (float) Math.exp(-0.5f * n * n);
        }
        float[] w2 = new float[WINDOW * WINDOW];
        double sum = 0;
        for (int i = 0; i < WINDOW; i++) {
            for (int j = 0; j < WINDOW; j++) {
                w2[i * WINDOW + j] = w1[i] * w1[j];
                sum += w2[i * WINDOW + j];
            }
        }
        for (int i = 0; i < w2.length; i++) {
            w2[i] = (float) (w2[i] / sum);
        }
        int side = WINDOW * repeat;
        float[] tiled = new float[side * side];
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                tiled[y * side + x] = w2[(y % WINDOW) * WINDOW + x % WINDOW];
            }
        }
        return OwnedArrays.of(m, tiled, new Shape(side, side));
    }
}
