package maetok4j.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LatentStoreTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    @Test
    void shardsRoundTripAndRowsAreAddressedAcrossShards() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.randomNormal(new Shape(3, 4, 2));
            NDArray b = m.randomNormal(new Shape(2, 4, 2));
            LatentStore.Writer w = new LatentStore.Writer(tmp, new long[] {4, 2}, true);
            w.append(a, m.create(new long[] {0, 1, 2}));
            w.append(b, m.create(new long[] {7, 8}));
            assertThatThrownBy(() -> LatentStore.open(tmp)).hasMessageContaining("not a complete latent store");
            w.finish(Map.of("tokenizer", "maetok-cpu"));
            try (LatentStore s = LatentStore.open(tmp)) {
                assertThat(s.size()).isEqualTo(5);
                assertThat(s.latentShape()).containsExactly(4, 2);
                assertThat(s.metadata()).containsEntry("tokenizer", "maetok-cpu");
                assertThat(s.latent(4)).containsExactly(b.get(1).toFloatArray());
                assertThat(s.latent(2)).containsExactly(a.get(2).toFloatArray());
                assertThat(s.label(3)).isEqualTo(7);
                NDArray rows = s.latents(new int[] {4, 0}, m);
                assertThat(rows.getShape()).isEqualTo(new Shape(2, 4, 2));
                assertThat(rows.get(1).toFloatArray()).containsExactly(a.get(0).toFloatArray());
                assertThatThrownBy(() -> s.latent(5)).isInstanceOf(IndexOutOfBoundsException.class);
            }
            assertThatThrownBy(() -> w.append(m.zeros(new Shape(1, 3, 2)), m.create(new long[] {0})))
                    .hasMessageContaining("do not match the store's shape");
        }
    }

    @Test
    void aStoreThatLiesAboutItsRowsIsRejected() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            LatentStore.Writer w = new LatentStore.Writer(tmp, new long[] {2}, false);
            w.append(m.zeros(new Shape(3, 2)), null);
            w.finish(Map.of());
        }
        Path index = tmp.resolve(LatentStore.INDEX);
        Files.writeString(index, Files.readString(index).replace("\"count\" : 3", "\"count\" : 4"));
        assertThatThrownBy(() -> LatentStore.open(tmp)).hasMessageContaining("count 4 but the shards hold 3 rows");
    }
}
