package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * 2D rotary position embedding on the image tokens of a sequence {@code [prefix | image grid | latents]}.
 *
 * <p>Each head's query/key is read as complex numbers from adjacent pairs (2j, 2j+1) and multiplied by
 * {@code exp(i*theta)}. Rather than slicing out the image tokens, the tables cover the whole sequence with
 * the identity rotation (cos 1, sin 0) on prefix and latent tokens, so rotation is two multiplies and an
 * add: {@code out = q*cos + swap(q)*sinSigned} with {@code swap} exchanging each pair and
 * {@code sinSigned = (-sin, +sin)} per pair.
 */
public final class Rope {

    private Rope() {}

    /** Rotation tables [layers or 1, heads or 1, T, headDim]; a leading 1 means "same for every layer". */
    public record Tables(NDArray cos, NDArray sinSigned) {

        /** Rotates q or k [B, heads, T, headDim] as block {@code layer} does. */
        public NDArray apply(NDArray x, int layer) {
            NDArray c = cos.getShape().get(0) == 1 ? cos.get(0) : cos.get(layer); // [heads|1, T, hd]
            NDArray s = sinSigned.getShape().get(0) == 1 ? sinSigned.get(0) : sinSigned.get(layer);
            Shape shape = x.getShape();
            long hd = shape.get(3);
            NDArray swapped = x.reshape(shape.get(0), shape.get(1), shape.get(2), hd / 2, 2).flip(4).reshape(shape);
            return x.mul(c).add(swapped.mul(s));
        }
    }

    /** Magnitudes {@code theta^(-4k/headDim)} for k < headDim/4, shared by RoPE-Mixed's init and axial RoPE. */
    public static float[] magnitudes(int headDim, double theta) {
        float[] m = new float[headDim / 4];
        for (int k = 0; k < m.length; k++) {
            // float32 as torch computes it: 1 / theta ** (float(4k) / dim)
            m[k] = (float) (1.0 / Math.pow(theta, (float) (4 * k) / headDim));
        }
        return m;
    }

    /** Integer grid coordinates of raster-ordered tokens: x = index mod width, y = index div width. */
    public static float[][] grid(int width, int height) {
        float[] tx = new float[width * height];
        float[] ty = new float[width * height];
        for (int i = 0; i < tx.length; i++) {
            tx[i] = i % width;
            ty[i] = (float) (i / width);
        }
        return new float[][] {tx, ty};
    }

    /**
     * RoPE-Mixed's initial learnable frequencies, laid out as {@code freqs[axis, layer, head*headDim/2 + j]}:
     * per (layer, head) a random rotation alpha, x = [m cos(alpha), m cos(alpha + pi/2)], y = [m sin(alpha), m sin(alpha + pi/2)].
     */
    public static Init mixedInit(int depth, int heads, int headDim, double theta) {
        float[] m = magnitudes(headDim, theta);
        int half = headDim / 2;
        return (v, shape, rng) -> {
            for (int l = 0; l < depth; l++) {
                for (int h = 0; h < heads; h++) {
                    double alpha = rng.nextDouble() * 2 * Math.PI;
                    int base = l * heads * half + h * half;
                    int yOff = depth * heads * half;
                    for (int k = 0; k < m.length; k++) {
                        v[base + k] = (float) (m[k] * Math.cos(alpha));
                        v[base + m.length + k] = (float) (m[k] * Math.cos(Math.PI / 2 + alpha));
                        v[yOff + base + k] = (float) (m[k] * Math.sin(alpha));
                        v[yOff + base + m.length + k] = (float) (m[k] * Math.sin(Math.PI / 2 + alpha));
                    }
                }
            }
        };
    }

    /**
     * RoPE-Mixed tables from learned frequencies [2, depth, heads*headDim/2] and coordinates tx, ty [N]:
     * {@code theta[l,h,n,j] = tx[n]*Fx[l, h*half+j] + ty[n]*Fy[l, h*half+j]}, in float32.
     */
    public static Tables mixed(NDArray freqs, NDArray tx, NDArray ty, int heads, int prefix, int latents) {
        long depth = freqs.getShape().get(1);
        long width = freqs.getShape().get(2);
        long half = width / heads;
        long n = tx.getShape().get(0);
        NDArray ax = tx.reshape(1, n, 1).mul(freqs.get(0).reshape(depth, 1, width));
        NDArray ay = ty.reshape(1, n, 1).mul(freqs.get(1).reshape(depth, 1, width));
        NDArray angles = ax.add(ay).reshape(depth, n, heads, half).transpose(0, 2, 1, 3); // [depth, heads, N, half]
        return tables(angles, prefix, latents);
    }

    /**
     * Axial 2D RoPE (fixed frequencies {@code theta^(-4k/headDim)}; x angles on the first half of the
     * pairs, y on the second), shared by every layer and head. The reference's version of this indexes
     * its table by block number and fails; this is the intended computation.
     */
    public static Tables axial(NDManager manager, int headDim, int width, int height, double theta, int prefix, int latents) {
        float[] m = magnitudes(headDim, theta);
        float[][] t = grid(width, height);
        int n = width * height;
        int half = headDim / 2;
        float[] angles = new float[n * half];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < m.length; k++) {
                angles[i * half + k] = t[0][i] * m[k];
                angles[i * half + m.length + k] = t[1][i] * m[k];
            }
        }
        return tables(OwnedArrays.of(manager, angles, new Shape(1, 1, n, half)), prefix, latents);
    }

    private static Tables tables(NDArray angles, int prefix, int latents) {
        Shape s = angles.getShape(); // [layers, heads, N, half]
        long hd = s.get(3) * 2;
        NDManager manager = angles.getManager();
        NDArray cos = angles.cos().repeat(3, 2);
        float[] sign = new float[(int) hd];
        for (int i = 0; i < sign.length; i++) {
            sign[i] = i % 2 == 0 ? -1f : 1f;
        }
        NDArray sin = angles.sin().repeat(3, 2).mul(OwnedArrays.of(manager, sign));
        return new Tables(pad(cos, prefix, latents, 1f), pad(sin, prefix, latents, 0f));
    }

    private static NDArray pad(NDArray table, int prefix, int latents, float identity) {
        Shape s = table.getShape();
        NDManager manager = table.getManager();
        NDList parts = new NDList();
        if (prefix > 0) {
            parts.add(manager.full(new Shape(s.get(0), s.get(1), prefix, s.get(3)), identity));
        }
        parts.add(table);
        if (latents > 0) {
            parts.add(manager.full(new Shape(s.get(0), s.get(1), latents, s.get(3)), identity));
        }
        return parts.size() == 1 ? table : ai.djl.ndarray.NDArrays.concat(parts, 2);
    }
}
