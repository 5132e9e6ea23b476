package maetok4j.data;

import java.awt.image.BufferedImage;
import java.util.random.RandomGenerator;

/**
 * The crops of guided-diffusion (ADM) that the reference's data pipelines use: halve with a box filter
 * while the image is at least twice the target, resize the shorter side with bicubic, crop.
 */
public final class AdmCrop {

    private AdmCrop() {}

    /** {@code center_crop_arr}: the evaluation transform. */
    public static BufferedImage centerCrop(BufferedImage rgb, int size) {
        BufferedImage img = shorterSideTo(rgb, size);
        return crop(img, (img.getWidth() - size) / 2, (img.getHeight() - size) / 2, size);
    }

    /** {@code random_crop_arr(min_crop_frac=0.8, max_crop_frac=1.0)}: the training transform. */
    public static BufferedImage randomCrop(BufferedImage rgb, int size, RandomGenerator rng) {
        int minSmaller = (int) Math.ceil(size / 1.0);
        int maxSmaller = (int) Math.ceil(size / 0.8);
        int smaller = minSmaller + rng.nextInt(maxSmaller - minSmaller + 1);
        BufferedImage img = shorterSideTo(rgb, smaller);
        int y = rng.nextInt(img.getHeight() - size + 1);
        int x = rng.nextInt(img.getWidth() - size + 1);
        return crop(img, x, y, size);
    }

    private static BufferedImage shorterSideTo(BufferedImage img, int side) {
        while (Math.min(img.getWidth(), img.getHeight()) >= 2 * side) {
            img = Resample.resize(img, img.getWidth() / 2, img.getHeight() / 2, Resample.Filter.BOX);
        }
        double scale = (double) side / Math.min(img.getWidth(), img.getHeight());
        // Python's round(): halves go to the even neighbour
        int w = (int) Math.rint(img.getWidth() * scale);
        int h = (int) Math.rint(img.getHeight() * scale);
        return Resample.resize(img, w, h, Resample.Filter.BICUBIC);
    }

    private static BufferedImage crop(BufferedImage img, int x, int y, int size) {
        int[] px = img.getRGB(x, y, size, size, null, 0, size);
        return Resample.toImage(px, size, size);
    }
}
