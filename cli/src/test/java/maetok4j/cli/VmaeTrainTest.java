package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code maetok train} on the VMAE preset and each baseline's: smoke runs whose tokenizer the other commands accept, and config errors. */
class VmaeTrainTest {

    @ParameterizedTest
    @ValueSource(strings = {"vmae-cpu", "ae-cpu", "dae-cpu", "vae-cpu", "ae-mm-cpu", "vae-mm-cpu"})
    void presetTrainsAndExportsATokenizerTheOtherCommandsAccept(String preset, @TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        CliRun t = CliRun.of("train", "--preset", preset, "--out", run.toString(), "--steps", "2", "--no-progress",
                "--json", dir.resolve("t.json").toString());
        assertThat(t.exitCode()).as(t.err()).isZero();
        assertThat(t.out()).contains("train: 2 steps").contains("held-out PSNR").contains("PCA codec");
        assertThat(run.resolve("train.yaml")).exists();
        assertThat(run.resolve("metrics.jsonl")).exists();
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("t.json").toFile());
        assertThat(summary.get("steps").asInt()).isEqualTo(2);
        assertThat(summary.get("val_psnr").asDouble()).isPositive();

        Path tokenizer = run.resolve("tokenizer");
        CliRun info = CliRun.of("info", tokenizer.toString(), "--json");
        assertThat(info.exitCode()).as(info.err()).isZero();
        assertThat(info.out()).contains("vmae");

        Path png = dir.resolve("img.png");
        BufferedImage img = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 40; x++) {
                img.setRGB(x, y, (x * 6) << 16 | (y * 6) << 8 | 128);
            }
        }
        ImageIO.write(img, "png", png.toFile());
        Path z = dir.resolve("z.safetensors");
        CliRun enc = CliRun.of("encode", tokenizer.toString(), png.toString(), "--out", z.toString());
        assertThat(enc.exitCode()).as(enc.err()).isZero();
        Path y = dir.resolve("y.safetensors");
        CliRun dec = CliRun.of("decode", tokenizer.toString(), z.toString(), "--out", y.toString());
        assertThat(dec.exitCode()).as(dec.err()).isZero();
        assertThat(y).exists();
    }

    @Test
    void decoderTuningRunsFromAPretrainingRun(@TempDir Path dir) {
        Path run1 = dir.resolve("run1");
        CliRun t = CliRun.of("train", "--preset", "vmae-cpu", "--out", run1.toString(), "--steps", "2", "--no-progress");
        assertThat(t.exitCode()).as(t.err()).isZero();
        CliRun f = CliRun.of("finetune-decoder", "--preset", "vmae-cpu", "--from", run1.toString(), "--out",
                dir.resolve("run2").toString(), "--steps", "2", "--no-progress");
        assertThat(f.exitCode()).as(f.err()).isZero();
        assertThat(f.out()).contains("finetune-decoder: 2 steps");
        assertThat(dir.resolve("run2/tokenizer/model.safetensors")).exists();
    }

    @Test
    void badVmaeKeysFailWithOneLineNamingTheFileAndField(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.yaml");
        Files.writeString(cfg, "model: vmae-cpu\ndataset: emoji-noto-64\nmax_steps: 5\nkl_weight: tiny\n");
        CliRun r = CliRun.of("train", cfg.toString(), "--out", dir.resolve("run").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("maetok: " + cfg + ": field 'kl_weight' must be a number, got \"tiny\"");

        Files.writeString(cfg, "model: vmae-cpu\ndataset: emoji-noto-64\nmax_steps: 5\nenc_token_drop: 0.4\n");
        CliRun other = CliRun.of("train", cfg.toString(), "--out", dir.resolve("run").toString());
        assertThat(other.exitCode()).isEqualTo(1);
        assertThat(other.err().strip()).isEqualTo("maetok: " + cfg
                + ": field 'enc_token_drop' is a MAETok option, but model 'vmae-cpu' is a VMAE (remove the key or change the model)");
        assertThat(dir.resolve("run/checkpoints")).doesNotExist();
    }
}
