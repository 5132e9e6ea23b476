package maetok4j.data;

import java.awt.image.BufferedImage;
import java.util.random.RandomGenerator;

/**
 * How a dataset image becomes a model input of side {@code size}: the ADM center crop (evaluation) or the
 * ADM random-resize crop followed by a horizontal flip with probability 1/2 (training).
 */
public record ImageTransform(int size, boolean train) {

    public ImageTransform {
        if (size < 1) {
            throw new IllegalArgumentException("image size must be positive, got " + size);
        }
    }

    public static ImageTransform eval(int size) {
        return new ImageTransform(size, false);
    }

    public static ImageTransform train(int size) {
        return new ImageTransform(size, true);
    }

    public BufferedImage apply(BufferedImage image, RandomGenerator rng) {
        if (!train) {
            return image.getWidth() == size && image.getHeight() == size ? image : AdmCrop.centerCrop(image, size);
        }
        BufferedImage out = AdmCrop.randomCrop(image, size, rng);
        return rng.nextBoolean() ? flip(out) : out;
    }

    static BufferedImage flip(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] px = img.getRGB(0, 0, w, h, null, 0, w);
        int[] out = new int[px.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                out[y * w + x] = px[y * w + (w - 1 - x)];
            }
        }
        return Resample.toImage(out, w, h);
    }
}
