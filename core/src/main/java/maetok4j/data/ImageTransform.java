package maetok4j.data;

import java.awt.image.BufferedImage;
import java.util.random.RandomGenerator;

/**
 * How a dataset image becomes a model input of side {@code size}: the ADM center crop or the ADM random-resize
 * crop, then (if {@code flip}) a horizontal flip with probability 1/2. Evaluation uses the center crop alone; the
 * reference trainer uses the random crop and the flip; the MAETok paper describes the center crop and the flip.
 */
public record ImageTransform(int size, boolean randomCrop, boolean flip) {

    public ImageTransform {
        if (size < 1) {
            throw new IllegalArgumentException("image size must be positive, got " + size);
        }
    }

    public static ImageTransform eval(int size) {
        return new ImageTransform(size, false, false);
    }

    public static ImageTransform train(int size) {
        return new ImageTransform(size, true, true);
    }

    public BufferedImage apply(BufferedImage image, RandomGenerator rng) {
        BufferedImage out = randomCrop ? AdmCrop.randomCrop(image, size, rng)
                : image.getWidth() == size && image.getHeight() == size ? image : AdmCrop.centerCrop(image, size);
        return flip && rng.nextBoolean() ? flip(out) : out;
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
