package maetok4j.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DataLoaderTest {

    static final Dataset EMOJI = BundledDatasets.open("emoji-noto-64");

    static List<DataLoader.Batch> all(DataLoader l, int epoch, int first) {
        List<DataLoader.Batch> out = new ArrayList<>();
        l.epoch(epoch, first).forEachRemaining(out::add);
        return out;
    }

    @Test
    void sameSeedSameBatchesWhateverTheWorkers() {
        int[] subset = java.util.stream.IntStream.range(0, 40).toArray();
        try (DataLoader one = new DataLoader(EMOJI, subset, ImageTransform.train(32), 8, true, true, 11, 1, 1);
                DataLoader two = new DataLoader(EMOJI, subset, ImageTransform.train(32), 8, true, true, 11, 2, 4)) {
            List<DataLoader.Batch> a = all(one, 3, 0);
            List<DataLoader.Batch> b = all(two, 3, 0);
            assertThat(a).hasSize(5);
            for (int i = 0; i < a.size(); i++) {
                assertThat(b.get(i).images()).isEqualTo(a.get(i).images());
                assertThat(b.get(i).labels()).isEqualTo(a.get(i).labels());
            }
            assertThat(one.order(4)).isNotEqualTo(one.order(3));
            assertThat(Arrays.stream(one.order(4)).sorted().toArray()).isEqualTo(subset);
            // resuming at batch 2 gives the same batches 2..4
            List<DataLoader.Batch> resumed = all(one, 3, 2);
            assertThat(resumed).hasSize(3);
            assertThat(resumed.get(0).images()).isEqualTo(a.get(2).images());
        }
    }

    @Test
    void dropLastAndEvalTransform() {
        Dataset fm = BundledDatasets.open("fashion-mnist-test");
        int[] subset = java.util.stream.IntStream.range(0, 10).toArray();
        try (DataLoader keep = new DataLoader(fm, subset, ImageTransform.eval(32), 4, false, false, 0, 2, 2);
                DataLoader drop = new DataLoader(fm, subset, ImageTransform.eval(32), 4, false, true, 0, 2, 2)) {
            List<DataLoader.Batch> k = all(keep, 0, 0);
            assertThat(k).extracting(DataLoader.Batch::size).containsExactly(4, 4, 2);
            assertThat(all(drop, 0, 0)).extracting(DataLoader.Batch::size).containsExactly(4, 4);
            assertThat(k.get(0).images()).hasSize(4 * 3 * 32 * 32);
            assertThat(k.get(0).labels()[0]).isEqualTo(fm.label(0));
        }
        assertThatThrownBy(() -> new DataLoader(fm, new int[] {1, 2}, ImageTransform.eval(32), 4, false, true, 0, 1, 1))
                .hasMessageContaining("fewer than one batch");
    }

    @Test
    void splitsAreDisjointCompleteAndReproducible() {
        int[][] a = DataLoader.split(1906, 0.1, 5);
        int[][] b = DataLoader.split(1906, 0.1, 5);
        assertThat(a[0]).isEqualTo(b[0]);
        assertThat(a[1]).hasSize(191);
        Set<Integer> seen = new HashSet<>();
        Arrays.stream(a[0]).forEach(seen::add);
        Arrays.stream(a[1]).forEach(i -> assertThat(seen.add(i)).isTrue());
        assertThat(seen).hasSize(1906);
        assertThat(DataLoader.split(1906, 0.1, 6)[1]).isNotEqualTo(a[1]);
    }

    @Test
    void flipMirrorsRows() {
        var img = Resample.toImage(new int[] {1, 2, 3, 4, 5, 6}, 3, 2);
        var f = ImageTransform.flip(img);
        assertThat(Arrays.stream(f.getRGB(0, 0, 3, 2, null, 0, 3)).map(p -> p & 0xffffff).toArray()).containsExactly(3, 2, 1, 6, 5, 4);
    }

    @Test
    void centerCropWithFlipGivesTheCropOrItsMirror() {
        int[] px = new int[40 * 40];
        for (int i = 0; i < px.length; i++) {
            px[i] = (int) ((i * 2654435761L) & 0xffffff); // a pattern with no mirror symmetry
        }
        var img = Resample.toImage(px, 40, 40);
        var center = AdmCrop.centerCrop(img, 32);
        var mirrored = ImageTransform.flip(center);
        var transform = new ImageTransform(32, false, true);
        int flipped = 0;
        for (int seed = 0; seed < 40; seed++) {
            int[] out = rgbOf(transform.apply(img, new java.util.SplittableRandom(seed)));
            boolean isCenter = Arrays.equals(out, rgbOf(center));
            assertThat(isCenter || Arrays.equals(out, rgbOf(mirrored))).isTrue();
            flipped += isCenter ? 0 : 1;
        }
        assertThat(flipped).isBetween(8, 32);
        assertThat(rgbOf(new ImageTransform(32, false, false).apply(img, new java.util.SplittableRandom(1)))).isEqualTo(rgbOf(center));
    }

    private static int[] rgbOf(java.awt.image.BufferedImage img) {
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }
}
