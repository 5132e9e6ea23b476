package maetok4j.latents;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.data.LatentStore;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LatentSetTest {

    static {
        Engines.configure();
    }

    @Test
    void flipsStayWithTheirImageOnOneSideOfTheSplit(@TempDir Path dir) {
        Path store = dir.resolve("s");
        try (NDManager m = NDManager.newBaseManager()) {
            var w = new LatentStore.Writer(store, new long[] {3, 2}, true);
            float[] v = new float[40 * 6];
            for (int i = 0; i < v.length; i++) {
                v[i] = i / 6; // each row's values are its row index
            }
            long[] labels = IntStream.range(0, 40).mapToLong(i -> i / 2 % 4).toArray();
            w.append(OwnedArrays.of(m, v, new Shape(40, 3, 2)), OwnedArrays.of(m, labels));
            w.finish(Map.of("flip", "true", "classes", "[\"w\",\"x\",\"y\",\"z\"]"));
            try (LatentSet set = LatentSet.load(store, m)) {
                assertThat(set.groupSize()).isEqualTo(2);
                assertThat(set.classes()).containsExactly("w", "x", "y", "z");
                assertThat(set.classCount()).isEqualTo(4);
                int[][] split = set.split(0.25, 3);
                assertThat(split[1]).hasSize(10);
                assertThat(split[0]).hasSize(30);
                for (int[] side : split) {
                    for (int r : side) {
                        int partner = r % 2 == 0 ? r + 1 : r - 1;
                        assertThat(side).as("row %d's partner", r).contains(partner);
                    }
                }
                assertThat(set.split(0.25, 3)).isDeepEqualTo(split);
                assertThat(set.split(0.25, 4)).isNotEqualTo(split);
                // pooled over the 3 tokens: channels last
                assertThat(set.pooled(m).getShape()).isEqualTo(new Shape(40, 2));
                assertThat(set.flattened(m).getShape()).isEqualTo(new Shape(40, 6));
                assertThat(LatentSet.rows(set.flattened(m), new int[] {5, 1}, m).get(":, 0").toFloatArray()).containsExactly(5f, 1f);
            }
        }
    }

    @Test
    void tensorFilesLoadWithOrWithoutLabels(@TempDir Path dir) {
        try (NDManager m = NDManager.newBaseManager()) {
            Path f = dir.resolve("z.safetensors");
            float[] v = new float[5 * 4 * 2 * 2];
            Arrays.fill(v, 1f);
            Safetensors.write(f, Map.of("latents", OwnedArrays.of(m, v, new Shape(5, 4, 2, 2))), Map.of());
            try (LatentSet set = LatentSet.load(f, m)) {
                assertThat(set.labelled()).isFalse();
                assertThat(set.channelAxis()).as("spatial latents keep channels first").isZero();
                assertThat(set.pooled(m).getShape()).isEqualTo(new Shape(5, 4));
            }
            Path bad = dir.resolve("bad.safetensors");
            Safetensors.write(bad, Map.of("latents", OwnedArrays.of(m, v, new Shape(5, 4, 2, 2)), "labels",
                    OwnedArrays.of(m, new long[] {1, 2})), Map.of());
            assertThatThrownBy(() -> LatentSet.load(bad, m)).hasMessageContaining(bad.toString()).hasMessageContaining("labels");
            assertThatThrownBy(() -> LatentSet.load(dir.resolve("none"), m)).hasMessageContaining("no such");
        }
    }
}
