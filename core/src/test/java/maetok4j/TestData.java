package maetok4j;

import maetok4j.data.Dataset;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Small datasets made in memory for tests. */
public final class TestData {

    private TestData() {}

    /** {@code n} seeded noise pictures, 32x32, labelled {@code i % 3} (classes a, b, c). */
    public static Dataset noisePictures(int n) {
        List<BufferedImage> images = new ArrayList<>();
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < n; i++) {
            BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < 32; y++) {
                for (int x = 0; x < 32; x++) {
                    img.setRGB(x, y, rng.nextInt(1 << 24) | (x < 16 ? 0xff0000 : 0));
                }
            }
            images.add(img);
        }
        return new Dataset() {
            @Override
            public String name() {
                return "noise";
            }

            @Override
            public int size() {
                return n;
            }

            @Override
            public List<String> classes() {
                return List.of("a", "b", "c");
            }

            @Override
            public int label(int i) {
                return i % 3;
            }

            @Override
            public BufferedImage image(int i) {
                return images.get(i);
            }
        };
    }
}
