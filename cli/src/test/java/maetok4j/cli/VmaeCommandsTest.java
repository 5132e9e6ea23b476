package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** VMAE through the command line: the fixture's parity via encode/decode, and converting a PyTorch checkpoint. */
class VmaeCommandsTest {

    static final Path VMAE = CliRun.fixture("vmae-small");
    static final Path IMAGES = VMAE.resolve("io.safetensors");
    /** The fixture's weights saved as MAE's save_model does, 'args' Namespace included (make_vmae_pth.py). */
    static final Path PTH = Path.of("../core/src/test/resources/pth/vmae-small.pth");

    @Test
    void encodeAndDecodeReproduceTheReference(@TempDir Path dir) {
        assertParity(VMAE, dir);
    }

    @Test
    void aPytorchCheckpointConvertsAndLoads(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("vmae");
        CliRun refused = CliRun.of("convert", PTH.toString(), "--config", VMAE.resolve("config.json").toString(), "--out", out.toString());
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.err().strip().lines()).hasSize(1);
        assertThat(refused.err()).contains("argparse.Namespace").contains("--allow-global");
        assertThat(out).doesNotExist();

        CliRun ok = CliRun.of("convert", PTH.toString(), "--config", VMAE.resolve("config.json").toString(), "--out", out.toString(),
                "--allow-global", "argparse.Namespace");
        assertThat(ok.exitCode()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("(vmae)");
        assertThat(out.resolve("model.safetensors")).exists();
        assertParity(out, dir);
        CliRun info = CliRun.of("info", out.toString());
        assertThat(info.exitCode()).as(info.err()).isZero();
        assertThat(info.out()).contains("vmae").contains("channels x 4 x 4");

        CliRun again = CliRun.of("convert", PTH.toString(), "--config", VMAE.resolve("config.json").toString(), "--out", out.toString(),
                "--allow-global", "argparse.Namespace");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).contains("--force");

        // the released size's preset does not fit the small weights: the trial load fails, nothing is left behind
        CliRun wrongSize = CliRun.of("convert", PTH.toString(), "--config", "vmae-f8d16", "--out", dir.resolve("big").toString(),
                "--allow-global", "argparse.Namespace");
        assertThat(wrongSize.exitCode()).isEqualTo(1);
        assertThat(wrongSize.err()).contains(PTH + ": does not match the model").contains("shape");
        assertThat(dir.resolve("big")).doesNotExist();
        CliRun noConfig = CliRun.of("convert", PTH.toString(), "--config", "nope.json", "--out", dir.resolve("x").toString());
        assertThat(noConfig.exitCode()).isEqualTo(1);
        assertThat(noConfig.err()).contains("nope.json");

        // a pickle that calls os.system: refused, nothing written, nothing run
        Path evil = Path.of("../core/src/test/resources/pth/malicious.pth");
        CliRun bad = CliRun.of("convert", evil.toString(), "--config", VMAE.resolve("config.json").toString(), "--out",
                dir.resolve("evil").toString(), "--allow-global", "argparse.Namespace");
        assertThat(bad.exitCode()).isEqualTo(1);
        assertThat(bad.err()).contains("system");
        assertThat(dir.resolve("evil")).doesNotExist();
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("converting"));
        }
    }

    /** encode → the posterior mean as [B, C, h, w]; decode → the reference reconstructions; both below 1e-4. */
    private static void assertParity(Path model, Path dir) {
        Path latents = dir.resolve("latents.safetensors");
        Path images = dir.resolve("rec.safetensors");
        CliRun e = CliRun.of("encode", model.toString(), IMAGES.toString(), "--out", latents.toString());
        assertThat(e.exitCode()).as(e.err()).isZero();
        CliRun d = CliRun.of("decode", model.toString(), latents.toString(), "--out", images.toString());
        assertThat(d.exitCode()).as(d.err()).isZero();
        try (NDManager m = NDManager.newBaseManager(); Safetensors io = Safetensors.open(IMAGES); Safetensors z = Safetensors.open(latents);
                Safetensors y = Safetensors.open(images)) {
            NDArray mean = io.read("latent_mean", m); // [B, N, C], token n = row·w + col
            long b = mean.getShape().get(0);
            long n = mean.getShape().get(1);
            long c = mean.getShape().get(2);
            long side = Math.round(Math.sqrt(n));
            NDArray expected = mean.transpose(0, 2, 1).reshape(b, c, side, side);
            assertThat(relativeError(z.read("latents", m), expected)).isLessThan(1e-4);
            // an images file holds [-1, 1]: the random-weight decoder's overshoot is clipped, the rest is the reference's
            assertThat(relativeError(y.read("images", m), io.read("reconstructions", m).clip(-1, 1))).isLessThan(1e-4);
        }
    }

    private static double relativeError(NDArray out, NDArray ref) {
        assertThat(out.getShape()).isEqualTo(ref.getShape());
        return out.sub(ref).norm().getFloat() / ref.norm().getFloat();
    }
}
