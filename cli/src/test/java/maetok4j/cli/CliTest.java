package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command run in-process on the reference fixtures, including the failures a user can cause. */
class CliTest {

    static {
        Engines.configure();
    }

    static final Path FIXTURE = CliRun.fixture("maetok-rope-mixed");

    @TempDir
    Path tmp;

    @Test
    void infoReportsTheReferenceParameterCount() throws IOException {
        CliRun run = CliRun.of("info", "maetok-b-128", "--json");
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode json = Reports.JSON.readTree(run.out());
        assertThat(json.get("parameters").asLong()).isEqualTo(173_891_360L);
        assertThat(json.get("latent_shape").toString()).isEqualTo("[128,32]");
        assertThat(json.get("encode_flops").asLong()).isGreaterThan(60_000_000_000L);

        CliRun text = CliRun.of("info", FIXTURE.toString());
        assertThat(text.exitCode()).as(text.err()).isZero();
        assertThat(text.out()).contains("8 tokens x 8 channels").contains("aux decoders     hog");
    }

    @Test
    void encodeThenDecodeReproducesTheReference() {
        Path z = tmp.resolve("z.safetensors");
        Path y = tmp.resolve("y.safetensors");
        CliRun enc = CliRun.of("encode", FIXTURE.toString(), FIXTURE.resolve("io.safetensors").toString(), "--out", z.toString(),
                "--batch-size", "2", "--json", tmp.resolve("enc.json").toString());
        assertThat(enc.exitCode()).as(enc.err()).isZero();
        assertThat(enc.out()).contains("encoded 3 image(s)");
        CliRun dec = CliRun.of("decode", FIXTURE.toString(), z.toString(), "--out", y.toString(), "--batch-size", "2");
        assertThat(dec.exitCode()).as(dec.err()).isZero();
        try (NDManager m = NDManager.newBaseManager(); Safetensors io = Safetensors.open(FIXTURE.resolve("io.safetensors"));
                Safetensors zf = Safetensors.open(z); Safetensors yf = Safetensors.open(y)) {
            assertThat(relativeError(zf.read("latents", m), io.read("latents", m))).isLessThan(1e-4);
            // an images file holds [-1, 1]: the random-weight decoder's overshoot is clipped, the rest is the reference's
            assertThat(relativeError(yf.read("images", m), io.read("reconstructions", m).clip(-1, 1))).isLessThan(1e-4);
            assertThat(yf.read("images", m).abs().max().getFloat()).isLessThanOrEqualTo(1f);
        }
        assertThat(tmp.resolve("enc.json")).isRegularFile();
    }

    @Test
    void reconstructWritesPngsAndReportsPsnr() throws IOException {
        Path pngs = tmp.resolve("in");
        // The fixture's io file carries 'latents': decoding them gives three PNG inputs.
        CliRun dec = CliRun.of("decode", FIXTURE.toString(), FIXTURE.resolve("io.safetensors").toString(), "--out", pngs.toString());
        assertThat(dec.exitCode()).as(dec.err()).isZero();
        try (Stream<Path> files = Files.list(pngs)) {
            assertThat(files.filter(p -> p.toString().endsWith(".png")).count()).isEqualTo(3);
        }
        Path out = tmp.resolve("rec");
        CliRun rec = CliRun.of("reconstruct", FIXTURE.toString(), pngs.toString(), "--out", out.toString(),
                "--json", tmp.resolve("rec.json").toString());
        assertThat(rec.exitCode()).as(rec.err()).isZero();
        assertThat(rec.out()).contains("reconstructed 3 image(s)").contains("PSNR");
        assertThat(out.resolve("000000.png")).isRegularFile();
        assertThat(Reports.JSON.readTree(tmp.resolve("rec.json").toFile()).get("psnr").asDouble()).isFinite();
    }

    @Test
    void benchReportsThroughputAndMemory() throws IOException {
        Path json = tmp.resolve("bench.json");
        CliRun run = CliRun.of("bench", FIXTURE.toString(), "--batch-size", "2", "--iterations", "3", "--warmup", "1",
                "--json", json.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode j = Reports.JSON.readTree(json.toFile());
        assertThat(j.get("encode_decode_images_per_second").asDouble()).isPositive();
        assertThat(j.get("native_arrays_after").asInt()).isEqualTo(j.get("native_arrays_before").asInt());
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertThat(CliRun.of().exitCode()).isEqualTo(2);
        assertThat(CliRun.of("encode", FIXTURE.toString()).exitCode()).isEqualTo(2);
        CliRun bad = CliRun.of("encode", FIXTURE.toString(), FIXTURE.resolve("io.safetensors").toString(), "--out", tmp.resolve("z.bin").toString());
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--out must name a .safetensors file");
    }

    @Test
    void badInputsFailWithOneLineAndNoOutput() throws IOException {
        Path out = tmp.resolve("z.safetensors");
        CliRun missing = CliRun.of("encode", tmp.resolve("nope").toString(), FIXTURE.resolve("io.safetensors").toString(), "--out", out.toString());
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err().strip()).startsWith("maetok: ").contains("neither a checkpoint folder nor a preset").doesNotContain("\n");

        Path corrupt = tmp.resolve("corrupt.safetensors");
        Files.write(corrupt, new byte[] {1, 2, 3});
        CliRun bad = CliRun.of("encode", FIXTURE.toString(), corrupt.toString(), "--out", out.toString());
        assertThat(bad.exitCode()).isEqualTo(1);
        assertThat(bad.err()).contains(corrupt.toString());
        assertThat(out).doesNotExist();

        Path y = tmp.resolve("y.safetensors");
        CliRun wrongLatents = CliRun.of("decode", "maetok-cpu", FIXTURE.resolve("io.safetensors").toString(), "--out", y.toString());
        assertThat(wrongLatents.exitCode()).isEqualTo(1);
        assertThat(wrongLatents.err()).contains("'latents' are [3, 8, 8], the model decodes [B, 16, 8]");
        assertThat(y).doesNotExist();

        Path config = tmp.resolve("badmodel");
        Files.createDirectories(config);
        Files.writeString(config.resolve("config.json"), "{\"enc_type\": \"vit\", \"dec_type\": \"vit\", \"image_size\": \"big\"}");
        CliRun badConfig = CliRun.of("info", config.toString());
        assertThat(badConfig.exitCode()).isEqualTo(1);
        assertThat(badConfig.err()).contains("config.json").contains("image_size");
    }

    static double relativeError(NDArray a, NDArray b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < x.length; i++) {
            num += (x[i] - y[i]) * (double) (x[i] - y[i]);
            den += y[i] * (double) y[i];
        }
        return Math.sqrt(num / den);
    }
}
