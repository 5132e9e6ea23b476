package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;

class DataCommandTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    @Test
    void listsTheBundledDatasets() {
        CliRun run = CliRun.of("data", "list");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("emoji-noto-64").contains("fashion-mnist-test");
    }

    @Test
    void benchmarksTheLoader() throws IOException {
        Path json = tmp.resolve("load.json");
        CliRun run = CliRun.of("data", "bench", "emoji-noto-64", "--size", "32", "--batch-size", "16", "--batches", "5",
                "--json", json.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(Reports.JSON.readTree(json.toFile()).get("images_per_second").asDouble()).isPositive();
    }

    @Test
    void describesALatentStore() throws IOException {
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            var w = new maetok4j.data.LatentStore.Writer(tmp.resolve("store"), new long[] {16, 8}, true);
            w.append(m.zeros(new ai.djl.ndarray.types.Shape(3, 16, 8)), m.create(new long[] {0, 2, 2}));
            w.finish(java.util.Map.of());
        }
        CliRun run = CliRun.of("data", "info", tmp.resolve("store").toString(), "--json");
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode j = Reports.JSON.readTree(run.out());
        assertThat(j.get("latents").asInt()).isEqualTo(3);
        assertThat(j.get("latent_shape").toString()).isEqualTo("[16,8]");
        assertThat(j.get("per_class").get("2").asInt()).isEqualTo(2);
    }

    @Test
    void describesABundledDataset() throws IOException {
        CliRun run = CliRun.of("data", "info", "fashion-mnist-test", "--json");
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode j = Reports.JSON.readTree(run.out());
        assertThat(j.get("images").asInt()).isEqualTo(10_000);
        assertThat(j.get("classes").asInt()).isEqualTo(10);
        assertThat(j.get("skipped").asInt()).isZero();
        assertThat(j.get("per_class").get("Bag").asInt()).isEqualTo(1000);
    }

    @Test
    void countsUnreadableFilesAndStrictModeNamesTheFirst() throws IOException {
        for (String cls : new String[] {"cats", "dogs"}) {
            Files.createDirectories(tmp.resolve(cls));
            for (int i = 0; i < 3; i++) {
                ImageIO.write(new BufferedImage(8, 6, BufferedImage.TYPE_INT_RGB), "png", tmp.resolve(cls + "/" + i + ".png").toFile());
            }
        }
        Files.write(tmp.resolve("cats/a-empty.png"), new byte[0]);
        byte[] good = Files.readAllBytes(tmp.resolve("dogs/0.png"));
        Files.write(tmp.resolve("dogs/b-corrupt.png"), java.util.Arrays.copyOf(good, 20));
        Files.write(tmp.resolve("dogs/c-bomb.png"), bomb());

        CliRun run = CliRun.of("data", "info", tmp.toString(), "--json");
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode j = Reports.JSON.readTree(run.out());
        assertThat(j.get("images").asInt()).isEqualTo(6);
        assertThat(j.get("classes").asInt()).isEqualTo(2);
        assertThat(j.get("skipped").asInt()).isEqualTo(3);
        assertThat(j.get("skipped_by_reason").toString()).contains("\"empty\":1").contains("\"corrupt\":1").contains("\"too large\":1");

        ImageIO.write(new BufferedImage(10, 10, BufferedImage.TYPE_INT_RGB), "png", tmp.resolve("cats/big.png").toFile());
        CliRun small = CliRun.of("data", "info", tmp.toString(), "--min-size", "7", "--json");
        assertThat(small.exitCode()).as(small.err()).isZero();
        JsonNode k = Reports.JSON.readTree(small.out());
        assertThat(k.get("images").asInt()).as("only the 10x10 image has a short side of 7 or more").isEqualTo(1);
        assertThat(k.get("skipped_by_reason").get("too small").asInt()).isEqualTo(6);

        CliRun strict = CliRun.of("data", "info", tmp.toString(), "--strict");
        assertThat(strict.exitCode()).isEqualTo(1);
        assertThat(strict.err()).contains("cats/a-empty.png: empty file");
    }

    static byte[] bomb() {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(100_000).putInt(100_000).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer out = ByteBuffer.allocate(8 + 4 + 17 + 4);
        out.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return out.array();
    }
}
