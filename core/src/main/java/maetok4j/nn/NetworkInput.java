package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.Arrays;

/**
 * How images in [-1, 1] become a pretrained network's input: per channel {@code (x - shift) / scale} (LPIPS's
 * {@code ScalingLayer}), then optionally a bilinear resize to {@code size}×{@code size}.
 *
 * <p>The ImageNet form ({@code mean}/{@code std} of images in [0, 1], as timm models expect) is the same map with
 * {@code shift = 2·mean − 1} and {@code scale = 2·std}, since {@code ((x+1)/2 − mean)/std = (x − (2·mean − 1))/(2·std)}.
 * The resize matches {@code F.interpolate(mode='bilinear', align_corners=False)} without antialiasing, which
 * the two commute with (bilinear weights sum to one), so the order does not matter.
 *
 * @param size output side in pixels, 0 to keep the image size
 */
public record NetworkInput(float[] shift, float[] scale, int size) {

    public NetworkInput {
        if (shift.length == 0 || shift.length != scale.length) {
            throw new IllegalArgumentException("shift and scale need one entry per channel, got " + shift.length + " and " + scale.length);
        }
        for (int c = 0; c < shift.length; c++) {
            if (!Float.isFinite(shift[c]) || !Float.isFinite(scale[c]) || scale[c] == 0) {
                throw new IllegalArgumentException("shift/scale must be finite with non-zero scale, got " + Arrays.toString(shift)
                        + " / " + Arrays.toString(scale));
            }
        }
        if (size < 0) {
            throw new IllegalArgumentException("size must be positive (or 0 for none), got " + size);
        }
        shift = shift.clone();
        scale = scale.clone();
    }

    /** LPIPS's scaling layer: {@code (x - shift) / scale}. */
    public static NetworkInput shiftScale(double[] shift, double[] scale, int size) {
        return new NetworkInput(toFloat(shift, 1, 0), toFloat(scale, 1, 0), size);
    }

    /** ImageNet-style normalisation of the image mapped from [-1, 1] to [0, 1]. */
    public static NetworkInput meanStd(double[] mean, double[] std, int size) {
        return new NetworkInput(toFloat(mean, 2, -1), toFloat(std, 2, 0), size);
    }

    /** LPIPS-VGG's constants (spec §1.11). */
    public static NetworkInput lpips() {
        return shiftScale(new double[] {-.030, -.088, -.188}, new double[] {.458, .448, .450}, 0);
    }

    /** The ImageNet mean and std timm's DINOv2 and (in MAETok) SigLIP targets are fed with (spec §1.8). */
    public static NetworkInput imagenet(int size) {
        return meanStd(new double[] {0.485, 0.456, 0.406}, new double[] {0.229, 0.224, 0.225}, size);
    }

    private static float[] toFloat(double[] v, double a, double b) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) (a * v[i] + b);
        }
        return f;
    }

    @Override
    public float[] shift() {
        return shift.clone();
    }

    @Override
    public float[] scale() {
        return scale.clone();
    }

    public int channels() {
        return shift.length;
    }

    /** images [B, C, H, W] in [-1, 1] → [B, C, size, size] (or [B, C, H, W]); arrays made here belong to the images' manager. */
    public NDArray apply(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || s.get(1) != channels()) {
            throw new IllegalArgumentException("expected images [B, " + channels() + ", H, W], got " + s);
        }
        NDManager m = images.getManager();
        Shape perChannel = new Shape(1, channels(), 1, 1);
        NDArray x = images.sub(OwnedArrays.of(m, shift, perChannel)).div(OwnedArrays.of(m, scale, perChannel));
        if (size == 0 || (s.get(2) == size && s.get(3) == size)) {
            return x;
        }
        NDArray rows = OwnedArrays.of(m, bilinearMatrix((int) s.get(2), size), new Shape(size, s.get(2))); // [S, H]
        NDArray cols = OwnedArrays.of(m, bilinearMatrix((int) s.get(3), size), new Shape(size, s.get(3))).transpose(); // [W, S]
        return rows.matMul(x.matMul(cols)); // [B, C, S, S]
    }

    /**
     * The [out, in] matrix of 1-D bilinear interpolation with half-pixel centres (PyTorch's align_corners=False):
     * output i samples the input at {@code (i + 0.5)·in/out − 0.5}, clamped below at 0, between its two neighbours.
     */
    public static float[] bilinearMatrix(int in, int out) {
        float[] w = new float[out * in];
        float ratio = (float) in / out;
        for (int i = 0; i < out; i++) {
            float src = Math.max(0f, (i + 0.5f) * ratio - 0.5f);
            int i0 = Math.min((int) src, in - 1);
            int i1 = Math.min(i0 + 1, in - 1);
            float l1 = src - i0;
            w[i * in + i0] += 1 - l1;
            w[i * in + i1] += l1;
        }
        return w;
    }

    /**
     * Reads {@code {"shift": [..], "scale": [..]}} or {@code {"mean": [..], "std": [..]}} (3 numbers each).
     *
     * @param field the node's name in the sidecar, for messages
     */
    public static NetworkInput fromJson(Sidecar sidecar, String field, JsonNode node, int size) {
        if (!node.isObject()) {
            throw sidecar.error(field, "must be an object with shift/scale or mean/std");
        }
        sidecar.allowOnly(field, node, "shift", "scale", "mean", "std");
        boolean lpipsForm = node.has("shift") || node.has("scale");
        boolean imagenetForm = node.has("mean") || node.has("std");
        if (lpipsForm == imagenetForm) {
            throw sidecar.error(field, "needs either shift and scale, or mean and std");
        }
        if (lpipsForm) {
            double[] scale = sidecar.numbers(field + ".scale", node.get("scale"), 3);
            requireNonZero(sidecar, field + ".scale", scale);
            return shiftScale(sidecar.numbers(field + ".shift", node.get("shift"), 3), scale, size);
        }
        double[] std = sidecar.numbers(field + ".std", node.get("std"), 3);
        requireNonZero(sidecar, field + ".std", std);
        return meanStd(sidecar.numbers(field + ".mean", node.get("mean"), 3), std, size);
    }

    private static void requireNonZero(Sidecar sidecar, String field, double[] v) {
        for (double x : v) {
            if (x == 0) {
                throw sidecar.error(field, "must not contain 0 (it divides), got " + Arrays.toString(v));
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetworkInput n && Arrays.equals(shift, n.shift) && Arrays.equals(scale, n.scale) && size == n.size;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(shift) + Arrays.hashCode(scale)) + size;
    }

    @Override
    public String toString() {
        return "NetworkInput[shift=" + Arrays.toString(shift) + ", scale=" + Arrays.toString(scale) + ", size=" + size + "]";
    }
}
