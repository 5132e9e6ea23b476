package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.data.LatentStore;
import maetok4j.diffusion.DiffusionCheckpoint;
import maetok4j.diffusion.SiT;
import maetok4j.latents.LatentCache;
import maetok4j.latents.LatentStatistics;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code maetok train-diffusion} on a tiny latent store: the run directory, the exported model, and the failure modes. */
class TrainDiffusionCommandTest {

    private static final String TINY = String.join("\n",
            "hidden_size: 32",
            "depth: 1",
            "num_heads: 2",
            "global_batch_size: 8",
            "max_steps: 50",
            "log_every: 1",
            "eval_every: 2",
            "val_latents: 8",
            "");

    /** 40 token latents [4, 2] of two classes, as cache-latents writes a store (shards, stats.json, store.json). */
    private static Path store(Path dir) throws Exception {
        int n = 40;
        float[] z = new float[n * 8];
        long[] labels = new long[n];
        SplittableRandom rng = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            labels[i] = i % 2;
            for (int k = 0; k < 8; k++) {
                z[i * 8 + k] = (float) (labels[i] * 2 - 1 + 0.5 * rng.nextGaussian());
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            LatentStore.Writer w = new LatentStore.Writer(dir, new long[] {4, 2}, true);
            w.append(OwnedArrays.of(m, z, new Shape(n, 4, 2)), OwnedArrays.of(m, labels));
            LatentStatistics stats = new LatentStatistics(new long[] {4, 2}, 1);
            stats.add(OwnedArrays.of(m, z, new Shape(n, 4, 2)));
            Files.writeString(dir.resolve(LatentCache.STATS), stats.summary().toJson(new ObjectMapper().createObjectNode()).toPrettyString());
            w.finish(Map.of("channel_axis", "1", "classes", "[\"left\", \"right\"]"));
        }
        return dir;
    }

    @Test
    void aShortRunWritesTheRunDirectoryAndExportsAModelThatLoads(@TempDir Path dir) throws Exception {
        Path z = store(dir.resolve("z"));
        Path cfg = dir.resolve("tiny.yaml");
        Files.writeString(cfg, TINY);
        Path run = dir.resolve("run");
        CliRun r = CliRun.of("train-diffusion", cfg.toString(), "--latents", z.toString(), "--out", run.toString(), "--steps", "3",
                "--no-progress", "--json", dir.resolve("s.json").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("train-diffusion: 3 steps").contains("held-out loss").contains("model:   " + run.resolve("model"));
        for (String f : new String[] {"config.yaml", "metrics.jsonl", "summary.json", "plots/loss.png", "model/config.json",
                "model/model.safetensors", "model/latents.json", "checkpoints/step-00000003/state.json"}) {
            assertThat(run.resolve(f)).as(f).exists();
        }
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(3);
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("s.json").toFile());
        assertThat(summary.get("steps").asInt()).isEqualTo(3);
        assertThat(summary.get("val_loss").asDouble()).isPositive();
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(run.resolve("model"), m)) {
            assertThat(sit.config().numClasses()).isEqualTo(2);
            assertThat(sit.config().inputSize()).isEqualTo(4);
        }
        assertThat(DiffusionCheckpoint.readLatents(run.resolve("model")).classes()).containsExactly("left", "right");

        // the resolved config.yaml runs again as it is; the same directory needs --resume
        CliRun again = CliRun.of("train-diffusion", cfg.toString(), "--latents", z.toString(), "--out", run.toString(), "--steps", "3", "--no-progress");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).contains("--resume");
        CliRun resumed = CliRun.of("train-diffusion", run.resolve("config.yaml").toString(), "--out", run.toString(), "--steps", "4",
                "--resume", "--no-progress");
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("train-diffusion: 1 steps");
    }

    @Test
    void badInputFailsWithOneLine(@TempDir Path dir) throws Exception {
        Path z = store(dir.resolve("z"));
        Path cfg = dir.resolve("bad.yaml");
        Files.writeString(cfg, TINY + "lr_rate: 0.1\n");
        CliRun unknown = CliRun.of("train-diffusion", cfg.toString(), "--latents", z.toString(), "--out", dir.resolve("run").toString());
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.err().strip()).isEqualTo("maetok: " + cfg + ": unknown field 'lr_rate'");

        Files.writeString(cfg, TINY + "weighting: edm\n");
        CliRun choice = CliRun.of("train-diffusion", cfg.toString(), "--latents", z.toString(), "--out", dir.resolve("run").toString());
        assertThat(choice.exitCode()).isEqualTo(1);
        assertThat(choice.err().strip()).isEqualTo("maetok: " + cfg + ": field 'weighting' must be one of uniform, lognormal, got 'edm'");

        Files.writeString(cfg, "preset: cpu\nlr: [fast\n");
        CliRun yaml = CliRun.of("train-diffusion", cfg.toString(), "--latents", z.toString(), "--out", dir.resolve("run").toString());
        assertThat(yaml.exitCode()).isEqualTo(1);
        assertThat(yaml.err().strip()).startsWith("maetok: " + cfg + ": not valid YAML").doesNotContain("\n");

        CliRun missing = CliRun.of("train-diffusion", "--preset", "cpu", "--latents", dir.resolve("nowhere").toString(), "--out",
                dir.resolve("run").toString());
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err().strip()).isEqualTo("maetok: " + dir.resolve("nowhere") + ": no such latent store or tensor file");
        assertThat(dir.resolve("run/checkpoints")).doesNotExist();

        assertThat(CliRun.of("train-diffusion", "--out", dir.resolve("run").toString(), "--latents", z.toString()).exitCode()).isEqualTo(2);
        assertThat(CliRun.of("train-diffusion", "--preset", "cpu", "--out", dir.resolve("run").toString()).exitCode()).isEqualTo(2);
        assertThat(CliRun.of("train-diffusion", "--preset", "XXL", "--latents", z.toString(), "--out", dir.resolve("run").toString()).err())
                .contains("unknown diffusion preset 'XXL'");
    }
}
