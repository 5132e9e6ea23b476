package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.TestData;
import maetok4j.data.Dataset;
import maetok4j.data.ImageTensors;
import maetok4j.data.LatentStore;
import maetok4j.tensor.Engines;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class LatentCacheTest {

    static {
        Engines.configure();
    }

    static final Path MODEL = resource("fixtures/maetok-rope-mixed");

    @Test
    void cachesEveryImageAndItsFlipWithLabelsAndStatistics(@TempDir Path dir) {
        Dataset data = TestData.noisePictures(7);
        Path out = dir.resolve("store");
        AtomicInteger seen = new AtomicInteger();
        try (NDManager m = NDManager.newBaseManager(); Tokenizer t = Tokenizers.open(MODEL.toString(), m)) {
            var r = LatentCache.run(t, "model", data, "noise", out, new LatentCache.Options(2, 3, true), seen::addAndGet);
            assertThat(seen.get()).isEqualTo(7);
            assertThat(r.latents()).isEqualTo(14);
            assertThat(r.shards()).isEqualTo(3);
            int[] all = {0, 1, 2, 3, 4, 5, 6};
            NDArray images = ImageTensors.load(data, all, t.imageSize(), m);
            float[] plain = t.encode(images).toFloatArray();
            float[] flipped = t.encode(images.flip(3)).toFloatArray();
            try (LatentStore store = LatentStore.open(out)) {
                assertThat(store.size()).isEqualTo(14);
                int per = plain.length / 7;
                for (int i = 0; i < 7; i++) {
                    assertClose(store.latent(2 * i), plain, i * per, 1e-5f);
                    assertClose(store.latent(2 * i + 1), flipped, i * per, 1e-5f);
                    assertThat(store.label(2 * i)).isEqualTo(i % 3);
                    assertThat(store.label(2 * i + 1)).isEqualTo(i % 3);
                }
                assertThat(store.metadata()).containsEntry("flip", "true").containsEntry("channel_axis", "1")
                        .containsEntry("classes", "[\"a\",\"b\",\"c\"]");
            }
            LatentStatistics.Summary s = LatentCache.statsOf(out);
            double sum = 0;
            double squares = 0;
            for (float v : plain) {
                sum += v;
                squares += v * v;
            }
            for (float v : flipped) {
                sum += v;
                squares += v * v;
            }
            int count = plain.length * 2;
            assertThat(s.count()).isEqualTo(14);
            assertThat(s.mean()).isCloseTo(sum / count, within(1e-6));
            assertThat(s.std()).isCloseTo(Math.sqrt(squares / count - (sum / count) * (sum / count)), within(1e-5));
            assertThat(s.channelStd()).hasSize((int) t.latentShape()[1]);
        }
    }

    @Test
    void anInterruptedCacheResumesAfterItsLastWholeShard(@TempDir Path dir) throws Exception {
        Dataset data = TestData.noisePictures(7);
        Path out = dir.resolve("store");
        LatentCache.Options o = new LatentCache.Options(4, 3, false);
        try (NDManager m = NDManager.newBaseManager(); Tokenizer t = Tokenizers.open(MODEL.toString(), m)) {
            LatentCache.run(t, "model", data, "noise", out, o, n -> {});
            byte[] last = Files.readAllBytes(out.resolve("shard-00002.safetensors"));
            byte[] first = Files.readAllBytes(out.resolve("shard-00000.safetensors"));
            // as if killed while writing the third shard: no index, no stats, no third shard
            Files.delete(out.resolve(LatentStore.INDEX));
            Files.delete(out.resolve(LatentCache.STATS));
            Files.delete(out.resolve("shard-00002.safetensors"));
            AtomicInteger encoded = new AtomicInteger();
            var r = LatentCache.run(t, "model", data, "noise", out, o, encoded::addAndGet);
            assertThat(r.resumedShards()).isEqualTo(2);
            assertThat(encoded.get()).as("progress counts the resumed images too").isEqualTo(7);
            assertThat(Files.readAllBytes(out.resolve("shard-00002.safetensors"))).isEqualTo(last);
            assertThat(Files.readAllBytes(out.resolve("shard-00000.safetensors"))).isEqualTo(first);
            try (LatentStore store = LatentStore.open(out)) {
                assertThat(store.size()).isEqualTo(7);
            }
            var again = LatentCache.run(t, "model", data, "noise", out, o, n -> {});
            assertThat(again.alreadyComplete()).isTrue();

            assertThatThrownBy(() -> LatentCache.run(t, "model", data, "noise", out, new LatentCache.Options(4, 3, true), n -> {}))
                    .hasMessageContaining(LatentCache.MANIFEST).hasMessageContaining("flip");
            Path foreign = dir.resolve("foreign");
            Files.createDirectories(foreign);
            Files.writeString(foreign.resolve("notes.txt"), "mine");
            assertThatThrownBy(() -> LatentCache.run(t, "model", data, "noise", foreign, o, n -> {}))
                    .hasMessageContaining("not a latent cache");
            assertThat(foreign.resolve("notes.txt")).hasContent("mine");
        }
    }

    @Test
    void scalarStatisticsGoIntoAMaetokConfigOnly(@TempDir Path dir) throws Exception {
        Path ckpt = dir.resolve("ckpt");
        Files.createDirectories(ckpt);
        Files.copy(MODEL.resolve("config.json"), ckpt.resolve("config.json"));
        var stats = new LatentStatistics.Summary(new long[] {4, 8}, 10, 0.25, 0.5, -1, 1, new double[8], new double[8], 0);
        LatentCache.writeScalarStats(ckpt, stats);
        ObjectMapper json = new ObjectMapper();
        var before = json.readTree(MODEL.resolve("config.json").toFile());
        var after = json.readTree(ckpt.resolve("config.json").toFile());
        assertThat(after.get("vq_mean").asDouble()).isEqualTo(0.25);
        assertThat(after.get("vq_std").asDouble()).isEqualTo(0.5);
        before.fieldNames().forEachRemaining(k -> {
            if (!k.startsWith("vq_")) {
                assertThat(after.get(k)).as(k).isEqualTo(before.get(k));
            }
        });
        assertThat(Tokenizers.config(ckpt.toString()).vqStd()).isEqualTo(0.5);

        Path vmae = dir.resolve("vmae");
        Files.createDirectories(vmae);
        Files.copy(resource("fixtures/vmae-small/config.json"), vmae.resolve("config.json"));
        assertThatThrownBy(() -> LatentCache.writeScalarStats(vmae, stats)).hasMessageContaining("MAETok");
    }

    private static void assertClose(float[] actual, float[] expected, int offset, float tol) {
        for (int i = 0; i < actual.length; i++) {
            assertThat(actual[i]).isCloseTo(expected[offset + i], within(tol));
        }
    }
}
