package maetok4j.data;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** 8-bit RGB images to model tensors [B, 3, H, W] in [-1, 1] and back, in the reference's conventions. */
public final class ImageTensors {

    private ImageTensors() {}

    /** {@code (v/255 - 0.5)/0.5} per channel (torchvision's ToTensor then Normalize(0.5, 0.5)). */
    public static NDArray toTensor(List<BufferedImage> images, NDManager manager) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no images");
        }
        int w = images.get(0).getWidth();
        int h = images.get(0).getHeight();
        int plane = w * h;
        float[] data = new float[images.size() * 3 * plane];
        for (int b = 0; b < images.size(); b++) {
            BufferedImage img = images.get(b);
            if (img.getWidth() != w || img.getHeight() != h) {
                throw new IllegalArgumentException("images differ in size: " + w + "x" + h + " and " + img.getWidth() + "x" + img.getHeight());
            }
            writeChw(img, data, b * 3 * plane);
        }
        return OwnedArrays.of(manager, data, new Shape(images.size(), 3, h, w));
    }

    /**
     * Rows of a dataset as the evaluation sees them: each image through {@link ImageTransform#eval} (the ADM
     * center crop to {@code size}), then {@link #toTensor}; [rows, 3, size, size], owned by {@code manager}.
     */
    public static NDArray load(Dataset data, int[] rows, int size, NDManager manager) {
        ImageTransform t = ImageTransform.eval(size);
        List<BufferedImage> images = new ArrayList<>(rows.length);
        for (int r : rows) {
            images.add(t.apply(data.image(r), new SplittableRandom(0))); // the eval transform draws nothing
        }
        return toTensor(images, manager);
    }

    /**
     * 8-bit pictures stored as numpy does ({@code uint8 [n, H, W, 3]}, the ADM reference batches' {@code arr_0})
     * to [n, 3, H, W] in [-1, 1], owned by {@code manager}.
     */
    public static NDArray fromHwcBytes(byte[] hwc, int n, int h, int w, NDManager manager) {
        int plane = h * w;
        if (hwc.length != n * plane * 3) {
            throw new IllegalArgumentException("expected " + n + "x" + h + "x" + w + "x3 bytes, got " + hwc.length);
        }
        float[] chw = new float[hwc.length];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < plane; i++) {
                for (int c = 0; c < 3; c++) {
                    chw[(b * 3 + c) * plane + i] = (((hwc[(b * plane + i) * 3 + c] & 0xff) / 255f) - 0.5f) / 0.5f;
                }
            }
        }
        return OwnedArrays.of(manager, chw, new Shape(n, 3, h, w));
    }

    /** Writes one image as [3, H, W] values {@code (v/255 - 0.5)/0.5} into {@code dst} at {@code offset}. */
    public static void writeChw(BufferedImage img, float[] dst, int offset) {
        int w = img.getWidth();
        int plane = w * img.getHeight();
        int[] px = img.getRGB(0, 0, w, img.getHeight(), null, 0, w);
        for (int i = 0; i < plane; i++) {
            dst[offset + i] = ((((px[i] >> 16) & 0xff) / 255f) - 0.5f) / 0.5f;
            dst[offset + plane + i] = ((((px[i] >> 8) & 0xff) / 255f) - 0.5f) / 0.5f;
            dst[offset + 2 * plane + i] = (((px[i] & 0xff) / 255f) - 0.5f) / 0.5f;
        }
    }

    /** The reference evaluation's quantisation {@code uint8 = clamp(127.5*y + 128, 0, 255)} (truncated). */
    public static List<BufferedImage> toImages(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() == 3) {
            s = new Shape(1, s.get(0), s.get(1), s.get(2));
        }
        if (s.dimension() != 4 || s.get(1) != 3) {
            throw new IllegalArgumentException("expected images [B, 3, H, W], got " + images.getShape());
        }
        int b = (int) s.get(0);
        int h = (int) s.get(2);
        int w = (int) s.get(3);
        int plane = w * h;
        float[] v = images.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        List<BufferedImage> out = new ArrayList<>(b);
        int[] px = new int[plane];
        for (int n = 0; n < b; n++) {
            int base = n * 3 * plane;
            for (int i = 0; i < plane; i++) {
                px[i] = (quantize(v[base + i]) << 16) | (quantize(v[base + plane + i]) << 8) | quantize(v[base + 2 * plane + i]);
            }
            out.add(Resample.toImage(px, w, h));
        }
        return out;
    }

    /** One value of the quantisation: {@code clamp(127.5*y + 128, 0, 255)} truncated to an integer. */
    public static int quantize(float y) {
        float q = 127.5f * y + 128f;
        return q <= 0 ? 0 : q >= 255 ? 255 : (int) q;
    }

    /** The quantisation applied to a tensor, returned in [-1, 1] again ({@code q/127.5 - 1}). */
    public static NDArray quantize(NDArray images) {
        return images.mul(127.5f).add(128f).clip(0f, 255f).floor().div(127.5f).sub(1f);
    }
}
