package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.diffusion.DiffusionCheckpoint;
import maetok4j.diffusion.SiT;
import maetok4j.latents.LatentNormalization;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code maetok sample}: parity with the reference sampler through the CLI, outputs, seeds, autoguidance, errors. */
class SampleCommandTest {

    static final Path SAMPLER = CliRun.fixture("sit-sampler");
    static final Path TOKENIZER = CliRun.fixture("maetok-rope-mixed");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    /** sit-small (latents [8, 8], 10 classes) with a latents.json naming the fixture tokenizer (latents [8, 8]). */
    static Path diffusion;

    @BeforeAll
    static void model() {
        diffusion = dir.resolve("diffusion");
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(CliRun.fixture("sit-small"), m)) {
            LatentNormalization norm = new LatentNormalization(new long[] {8, 8}, 1, new double[] {0.1}, new double[] {0.5});
            DiffusionCheckpoint.save(diffusion, sit, new DiffusionCheckpoint.Latents(norm, List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"),
                    TOKENIZER.toAbsolutePath().toString()));
        }
    }

    static double maxRelativeError(Path file, String key, Path reference, String refKey) {
        try (NDManager m = NDManager.newBaseManager(); Safetensors a = Safetensors.open(file); Safetensors b = Safetensors.open(reference)) {
            NDArray x = a.read(key, m).toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
            NDArray y = b.read(refKey, m).toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
            assertThat(x.getShape()).isEqualTo(y.getShape());
            return x.sub(y).norm().getDouble() / y.norm().getDouble();
        }
    }

    @Test
    void theEulerSamplerMatchesTheReferenceThroughTheCommandLine() {
        Path io = SAMPLER.resolve("io.safetensors");
        Path cfg = dir.resolve("cfg.safetensors");
        CliRun r = CliRun.of("sample", "--diffusion", SAMPLER.toString(), "--noise", io.toString(), "--sampler", "euler", "--steps", "5",
                "--cfg", "2.5", "--interval", "0,0.7", "--save-latents", cfg.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxRelativeError(cfg, "latents", io, "samples_cfg")).isLessThan(1e-4);
        Path plain = dir.resolve("plain.safetensors");
        r = CliRun.of("sample", "--diffusion", SAMPLER.toString(), "--noise", io.toString(), "--sampler", "euler", "--steps", "5",
                "--save-latents", plain.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxRelativeError(plain, "latents", io, "samples_plain")).isLessThan(1e-4);
        assertThat(maxRelativeError(plain, "labels", io, "labels")).isZero();
    }

    @Test
    void samplesAGridImagesAndATensorFileAndRepeatsWithItsSeedWhateverTheBatch() throws Exception {
        Path out = dir.resolve("grid");
        Path json = dir.resolve("grid.json");
        CliRun r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "0,2", "--n", "3", "--steps", "4", "--cfg", "2",
                "--interval", "0,0.7", "--seed", "5", "--batch-size", "4", "--out", out.toString(), "--save-latents",
                dir.resolve("a.safetensors").toString(), "--json", json.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("sampled 6 image(s)");
        assertThat(ImageIO.read(out.resolve("grid.png").toFile())).isNotNull();
        try (var files = Files.list(out.resolve("images"))) {
            assertThat(files.count()).isEqualTo(6);
        }
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(out.resolve("samples.safetensors"))) {
            assertThat(s.read("images", m).getShape().getShape()).containsExactly(6, 3, 32, 32);
            assertThat(s.read("labels", m).toLongArray()).containsExactly(0, 0, 0, 2, 2, 2);
            float[] px = s.read("images", m).toFloatArray();
            for (float v : px) {
                assertThat(v).isBetween(-1f, 1f);
            }
        }
        JsonNode summary = JSON.readTree(json.toFile());
        assertThat(summary.get("samples").asInt()).isEqualTo(6);
        assertThat(summary.get("tokenizer").asText()).endsWith("maetok-rope-mixed");
        // one sample at a time, and Heun/SDE differ from Euler but repeat with the seed
        r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "0,2", "--n", "3", "--steps", "4", "--cfg", "2",
                "--interval", "0,0.7", "--seed", "5", "--batch-size", "1", "--save-latents", dir.resolve("b.safetensors").toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxRelativeError(dir.resolve("b.safetensors"), "latents", dir.resolve("a.safetensors"), "latents")).isLessThan(1e-6);
        for (String sampler : new String[] {"heun", "sde"}) {
            for (String batch : new String[] {"6", "2"}) {
                r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "0,2", "--n", "3", "--steps", "4", "--sampler", sampler,
                        "--seed", "5", "--batch-size", batch, "--save-latents", dir.resolve(sampler + batch + ".safetensors").toString(), "--no-progress");
                assertThat(r.exitCode()).as(r.err()).isZero();
            }
            assertThat(maxRelativeError(dir.resolve(sampler + "6.safetensors"), "latents", dir.resolve(sampler + "2.safetensors"), "latents"))
                    .isLessThan(1e-6);
            assertThat(maxRelativeError(dir.resolve(sampler + "6.safetensors"), "latents", dir.resolve("a.safetensors"), "latents"))
                    .isGreaterThan(1e-3);
        }
        // the saved latents are in the tokenizer's space: the normalisation (mean 0.1, std 0.5) was undone
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(dir.resolve("a.safetensors"))) {
            assertThat(s.read("latents", m).getShape().getShape()).containsExactly(6, 8, 8);
        }
    }

    @Test
    void evalWritesBalancedImagesOnlyAndAutoguidanceRuns() throws Exception {
        Path out = dir.resolve("eval");
        CliRun r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--eval", "12", "--steps", "3", "--out", out.toString(),
                "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        try (var files = Files.list(out.resolve("images"))) {
            assertThat(files.count()).isEqualTo(12);
        }
        assertThat(out.resolve("samples.safetensors")).doesNotExist();
        // a guide with other weights (the same geometry): autoguidance changes the samples; the same model as its own guide does not
        Path guide = dir.resolve("guide");
        try (NDManager m = NDManager.newBaseManager(); SiT small = SiT.load(CliRun.fixture("sit-small"), m);
                SiT sit = SiT.create(small.config(), m, 1)) {
            DiffusionCheckpoint.save(guide, sit, DiffusionCheckpoint.readLatents(diffusion));
        }
        String[] common = {"sample", "--diffusion", diffusion.toString(), "--classes", "1", "--n", "4", "--steps", "4", "--no-progress"};
        r = CliRun.of(concat(common, "--save-latents", dir.resolve("p.safetensors").toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        r = CliRun.of(concat(common, "--cfg", "2", "--guide-model", diffusion.toString(), "--save-latents", dir.resolve("self.safetensors").toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxRelativeError(dir.resolve("self.safetensors"), "latents", dir.resolve("p.safetensors"), "latents")).isLessThan(1e-5);
        r = CliRun.of(concat(common, "--cfg", "2", "--guide-model", guide.toString(), "--save-latents", dir.resolve("auto.safetensors").toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxRelativeError(dir.resolve("auto.safetensors"), "latents", dir.resolve("p.safetensors"), "latents")).isGreaterThan(1e-3);
    }

    @Test
    void badInputGetsOneLineAndTheRightExitCode() throws Exception {
        CliRun r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "1", "--labels", "x.safetensors", "--out", "o");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("give at most one");
        r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "1");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("nothing to write");
        r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--sampler", "ddim", "--save-latents", "x.safetensors");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unknown sampler 'ddim'");
        r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--classes", "12", "--save-latents", dir.resolve("z.safetensors").toString(),
                "--no-progress");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("label 12 outside the model's 10 classes");
        assertThat(dir.resolve("z.safetensors")).doesNotExist();
        Path labelsOnly = dir.resolve("labels.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Safetensors.write(labelsOnly, Map.of("labels", OwnedArrays.of(m, new long[] {1, 2})), Map.of());
        }
        r = CliRun.of("sample", "--diffusion", diffusion.toString(), "--noise", labelsOnly.toString(), "--save-latents",
                dir.resolve("z.safetensors").toString(), "--no-progress");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains(labelsOnly + ": no tensor 'noise'");
        r = CliRun.of("sample", "--diffusion", dir.resolve("missing").toString(), "--save-latents", "x.safetensors");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip().lines().count()).isEqualTo(1);
    }

    @Test
    void benchDiffusionTimesSamplingWithAndWithoutGuidance() throws Exception {
        Path json = dir.resolve("bench.json");
        CliRun r = CliRun.of("bench-diffusion", "--preset", "cpu", "--latent-shape", "4,2", "--classes", "3", "--batch-size", "2", "--steps", "2",
                "--iterations", "1", "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(json.toFile());
        assertThat(o.get("samples_per_second").asDouble()).isPositive();
        assertThat(o.get("samples_per_second_guided").asDouble()).isPositive();
        assertThat(o.get("tokens").asInt()).isEqualTo(4);
        r = CliRun.of("bench-diffusion", "--diffusion", SAMPLER.toString(), "--batch-size", "2", "--steps", "2", "--iterations", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(CliRun.of("bench-diffusion").exitCode()).isEqualTo(2);
        assertThat(CliRun.of("bench-diffusion", "--preset", "XXL").err()).contains("unknown SiT preset 'XXL'");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
