package maetok4j.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReadersTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    static int[] pixels(BufferedImage i) {
        return i.getRGB(0, 0, i.getWidth(), i.getHeight(), null, 0, i.getWidth());
    }

    @Test
    void tensorFileRoundTripsRealImages() {
        Dataset emoji = BundledDatasets.open("emoji-noto-64");
        Path f = tmp.resolve("e.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("images", ImageTensors.toTensor(List.of(emoji.image(0), emoji.image(500), emoji.image(1905)), m));
            t.put("labels", m.create(new long[] {emoji.label(0), emoji.label(500), emoji.label(1905)}));
            Safetensors.write(f, t, Map.of("classes", String.join(",", emoji.classes())));
        }
        try (TensorDataset d = new TensorDataset(f)) {
            assertThat(d.size()).isEqualTo(3);
            assertThat(d.classes()).isEqualTo(emoji.classes());
            assertThat(d.label(1)).isEqualTo(emoji.label(500));
            assertThat(pixels(d.image(2))).isEqualTo(pixels(emoji.image(1905)));
        }
        assertThat(Datasets.open(f.toString(), true, false, 0, null).size()).isEqualTo(3);
    }

    @Test
    void cifarTenAndHundredBinaryBatches() throws IOException {
        Path c10 = tmp.resolve("cifar-10");
        Files.createDirectories(c10);
        for (int b = 1; b <= 5; b++) {
            Files.write(c10.resolve("data_batch_" + b + ".bin"), record(new int[][] {{b}}, 10 * b));
        }
        Files.write(c10.resolve("test_batch.bin"), record(new int[][] {{7}, {9}}, 3));
        Files.writeString(c10.resolve("batches.meta.txt"), "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
        CifarDataset train = CifarDataset.open(c10, true);
        assertThat(train.size()).isEqualTo(5);
        assertThat(train.label(4)).isEqualTo(5);
        assertThat(train.image(1).getRGB(0, 0) & 0xffffff).isEqualTo((20 << 16) | (21 << 8) | 22);
        CifarDataset test = CifarDataset.open(c10, false);
        assertThat(test.classes().get(test.label(1))).isEqualTo("truck");

        Path c100 = tmp.resolve("cifar-100");
        Files.createDirectories(c100);
        byte[] r = record(new int[][] {{3, 87}}, 1); // coarse 3, fine 87
        Files.write(c100.resolve("train.bin"), r);
        assertThat(CifarDataset.open(c100, true).label(0)).isEqualTo(87);
        assertThat(CifarDataset.open(c100, true).classes()).hasSize(100);

        Files.write(c10.resolve("test_batch.bin"), new byte[100]);
        assertThatThrownBy(() -> CifarDataset.open(c10, false)).hasMessageContaining("not a whole number of 3073-byte");
    }

    /** One CIFAR record per entry of {@code labels} (its label bytes), with planes filled with v, v+1, v+2. */
    static byte[] record(int[][] labels, int v) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int[] l : labels) {
            for (int b : l) {
                out.write(b);
            }
            for (int c = 0; c < 3; c++) {
                byte[] plane = new byte[1024];
                java.util.Arrays.fill(plane, (byte) (v + c));
                out.writeBytes(plane);
            }
        }
        return out.toByteArray();
    }
}
