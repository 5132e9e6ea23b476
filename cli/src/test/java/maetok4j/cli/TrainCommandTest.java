package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Smoke runs of both training stages on the bundled preset, and their failure modes. */
class TrainCommandTest {

    @Test
    void bothStagesRunOnThePresetAndExportTokenizersTheOtherCommandsAccept(@TempDir Path dir) throws Exception {
        Path run1 = dir.resolve("run1");
        CliRun t = CliRun.of("train", "--preset", "cpu", "--out", run1.toString(), "--steps", "2", "--no-progress",
                "--json", dir.resolve("t.json").toString());
        assertThat(t.exitCode()).as(t.err()).isZero();
        assertThat(t.out()).contains("train: 2 steps").contains("held-out PSNR");
        assertThat(run1.resolve("metrics.jsonl")).exists();
        assertThat(run1.resolve("train.yaml")).exists();
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("t.json").toFile());
        assertThat(summary.get("steps").asInt()).isEqualTo(2);

        Path run2 = dir.resolve("run2");
        CliRun f = CliRun.of("finetune-decoder", "--preset", "cpu", "--from", run1.toString(), "--out", run2.toString(),
                "--steps", "2", "--no-progress");
        assertThat(f.exitCode()).as(f.err()).isZero();
        assertThat(f.out()).contains("finetune-decoder: 2 steps");

        CliRun info = CliRun.of("info", run2.resolve("tokenizer").toString(), "--json");
        assertThat(info.exitCode()).as(info.err()).isZero();
        CliRun rec = CliRun.of("reconstruct", run2.resolve("tokenizer").toString(), "emoji-noto-64", "--out",
                dir.resolve("rec").toString());
        // reconstruct takes image files or tensor files; a dataset name is not one of them
        assertThat(rec.exitCode()).isNotZero();

        CliRun again = CliRun.of("train", "--preset", "cpu", "--out", run1.toString(), "--steps", "2", "--no-progress");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).contains("--resume");
        CliRun resumed = CliRun.of("train", "--preset", "cpu", "--out", run1.toString(), "--steps", "3", "--resume", "--no-progress");
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("train: 1 steps");
    }

    @Test
    void badConfigsFailWithOneLineNamingTheFileAndField(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.yaml");
        Files.writeString(cfg, "model: maetok-cpu\ndataset: emoji-noto-64\nmax_steps: 5\ndisc_weight: heavy\n");
        CliRun r = CliRun.of("train", cfg.toString(), "--out", dir.resolve("run").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("maetok: " + cfg + ": field 'disc_weight' must be a number, got \"heavy\"");
        assertThat(dir.resolve("run/checkpoints")).doesNotExist();

        CliRun both = CliRun.of("train", cfg.toString(), "--preset", "cpu", "--out", dir.resolve("run").toString());
        assertThat(both.exitCode()).isEqualTo(2);
        CliRun noFrom = CliRun.of("finetune-decoder", "--preset", "cpu", "--out", dir.resolve("run").toString());
        assertThat(noFrom.exitCode()).isEqualTo(2);
    }
}
