package maetok4j.cli;

import maetok4j.training.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code maetok study}: its stages as data for each budget, the sentences it draws from numbers, and a partial smoke run. */
class StudyCommandTest {

    @TempDir
    Path dir;

    static Pipeline.Stage stage(List<Pipeline.Stage> stages, String name) {
        return stages.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void everyModelGetsTheSameStagesAndTheBudgetsScaleEveryTrainer() {
        for (String budget : List.of("small", "medium")) {
            for (boolean smoke : new boolean[] {false, true}) {
                List<Pipeline.Stage> stages = StudyCommand.stages(dir, budget, smoke);
                new Pipeline(dir, stages);
                for (Pipeline.Stage s : stages) {
                    StageChains.parse(s);
                }
                StageChains.assertEachStageReadsOnlyWhatEarlierStagesMade(dir, stages);
                StageChains.assertSeedsAreZero(stages);
                int factor = budget.equals("medium") ? 3 : 1;
                for (StudyCommand.Model m : StudyCommand.MODELS) {
                    TrainConfig preset = TrainConfig.preset(m.preset());
                    assertThat(preset.run().globalSeed()).isZero();
                    Pipeline.Stage train = stage(stages, "train-" + m.id());
                    long presetSteps = m.ownEncoder() ? preset.run().maxSteps() : preset.forFinetune().run().maxSteps();
                    if (smoke) {
                        assertThat(train.args()).containsSubsequence("--steps", "2");
                    } else if (factor == 1) {
                        assertThat(train.args()).doesNotContain("--steps");
                    } else {
                        assertThat(train.args()).containsSubsequence("--steps", Long.toString(3 * presetSteps));
                    }
                    assertThat(train.args().get(0)).isEqualTo(m.ownEncoder() ? "train" : "finetune-decoder");
                    assertThat(stage(stages, "recon-" + m.id()).args()).containsSubsequence("--val-images",
                            Integer.toString(preset.data().valImages()));
                    // samples come from the diffusion model of the encoder's latents, decoded by this model's own decoder
                    assertThat(stage(stages, "sample-" + m.id()).args()).containsSubsequence("--diffusion",
                            dir.resolve(m.encoder()).resolve("diffusion/model").toString()).containsSubsequence("--tokenizer",
                            dir.resolve(m.id()).resolve("run/tokenizer").toString()).containsSubsequence("--cfg", "1");
                    if (m.ownEncoder()) {
                        // every diffusion model trains for the same, explicit number of steps: the loss is read at a fixed step
                        assertThat(stage(stages, "diffusion-" + m.id()).args()).isEqualTo(List.of("train-diffusion", "--preset", "cpu",
                                "--latents", dir.resolve("latents").resolve(m.id()).toString(), "--out", dir.resolve(m.id()).resolve("diffusion")
                                        .toString(), "--steps", smoke ? "2" : Long.toString(StudyCommand.DIFFUSION_SMALL * factor)));
                    }
                }
                assertThat(stages).extracting(Pipeline.Stage::name).doesNotContain("cache-maetok-ft", "probe-maetok-ft", "diffusion-maetok-ft");
                assertThat(stage(stages, "train-maetok-ft").args()).containsSubsequence("--from", dir.resolve("maetok/run").toString());
                assertThat(stage(stages, "gmm").args()).containsSubsequence("gmm", dir.resolve("latents/ae").toString(),
                        dir.resolve("latents/vae").toString(), dir.resolve("latents/ae-mm").toString(), dir.resolve("latents/maetok").toString(),
                        dir.resolve("latents/vmae").toString(), "--k");
            }
        }
        // the presets compared: the VMAE family and the cpu MAETok, as the report describes them
        assertThat(StudyCommand.MODELS).extracting(StudyCommand.Model::preset)
                .containsExactly("ae-cpu", "vae-cpu", "ae-mm-cpu", "cpu", "cpu", "vmae-cpu");
        CliRun bad = CliRun.of("study", "--budget", "large", "--list");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--budget must be small or medium, got 'large'");
        CliRun list = CliRun.of("study", "--list");
        assertThat(list.exitCode()).as(list.err()).isZero();
        assertThat(list.out()).contains("maetok train --preset ae-cpu --out " + Path.of("runs", "study-small", "ae", "run"));
    }

    static StudyCommand.Row row(String id, double psnr, double rfd, double probe, double nll50, double valLoss, double gfd) {
        StudyCommand.Model m = StudyCommand.MODELS.stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow();
        return new StudyCommand.Row(m, "[4, 8, 8]", 256, psnr, 0.8, rfd, probe, Map.of(10, nll50 + 0.1, 50, nll50), 0.5, valLoss, gfd, 0.5);
    }

    @Test
    void theSentencesSayWhatTheNumbersShowAndNothingElse() {
        List<StudyCommand.Row> rows = List.of(
                row("ae", 22.9, 9.5, 0.57, 1.18, 0.40, 30),
                row("vae", 23.0, 9.2, 0.58, 1.19, 0.41, 31),
                row("ae-mm", 20.5, 16.5, 0.58, 1.23, 0.39, 35),
                row("maetok", 14.1, 46.0, 0.60, 1.10, 0.38, 40),
                row("maetok-ft", 14.4, 45.0, Double.NaN, Double.NaN, Double.NaN, 39),
                row("vmae", 18.9, 20.3, 0.62, 1.24, 0.37, 36));
        List<String> claims = StudyCommand.StudyReport.claims(rows);
        // K = 50: MAETok is below both plain models, AE+MM and VMAE above both: 2 of 6 pairs go the papers' way
        assertThat(claims.get(0)).startsWith("Both papers: mask modelling gives latents with fewer modes").contains("(here at K = 50)")
                .contains("Here: AE + mask modelling 1.230, MAETok 1.100, VMAE 1.240 against plain AE 1.180, VAE 1.190")
                .endsWith("partly agrees (2 of 6 mask-modelled/plain pairs go the papers' way).");
        // probe: AE+MM ties VAE (not above it); MAETok and VMAE above both
        assertThat(claims.get(1)).endsWith("partly agrees (5 of 6 mask-modelled/plain pairs go the papers' way).");
        assertThat(claims.get(2)).contains("lower held-out diffusion loss").endsWith(": agrees.");
        assertThat(claims.get(3)).contains("(lower gFD)").endsWith(": does not agree.");
        assertThat(claims.get(4)).contains("costs pixel fidelity").endsWith(": agrees.");
        assertThat(claims.get(5)).isEqualTo("MAETok: decoder fine-tuning improves reconstruction. Here: PSNR 14.10 → 14.40 dB, rFD 46.00 → 45.00:"
                + " agrees.");
        assertThat(claims.get(6)).endsWith("gFD 40.00 → 39.00: agrees.");
        assertThat(claims).hasSize(7);

        // the best of a column skips a shared encoder's repeated numbers; the table shows K = 10 and the largest K
        List<StudyCommand.Column> cols = StudyCommand.StudyReport.columns(rows, 2000);
        assertThat(cols).extracting(StudyCommand.Column::header).contains("GMM NLL/dim, K = 10", "GMM NLL/dim, K = 50",
                "diffusion loss at step 2,000, training", "diffusion loss at step 2,000, held-out");
        StudyCommand.Column probe = cols.stream().filter(c -> c.header().equals("probe accuracy")).findFirst().orElseThrow();
        assertThat(StudyCommand.StudyReport.best(probe, rows)).isEqualTo(0.62);
        StudyCommand.Column psnr = cols.get(0);
        assertThat(StudyCommand.StudyReport.best(psnr, rows)).isEqualTo(23.0);

        // values that print the same are ties, for the bold of the table and for the sentences
        List<StudyCommand.Row> close = List.of(row("ae", 23.004, 9, 0.5, 1.2, 0.4, 30), row("vae", 23.001, 9, 0.5, 1.2, 0.4, 30));
        assertThat(StudyCommand.StudyReport.best(psnr, close)).isEqualTo(23.0);
        assertThat(StudyCommand.StudyReport.and(List.of("a", "b", "c"))).isEqualTo("a, b and c");

        // a side without numbers says nothing
        List<StudyCommand.Row> partial = List.of(rows.get(0), rows.get(1), row("ae-mm", Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                Double.NaN, Double.NaN), row("maetok", Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN),
                row("maetok-ft", Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN), row("vmae", Double.NaN,
                        Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN));
        assertThat(StudyCommand.StudyReport.claims(partial)).isEmpty();
    }

    @Test
    void aPartialSmokeStudyReportsTheModelsMeasuredSoFar() throws Exception {
        Path out = dir.resolve("study");
        CliRun r = CliRun.of("study", "--smoke", "--until", "probe-ae", "--out", out.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("[stage 3/42] train-ae", "study stopped after probe-ae", "ae tokenizer:");
        String md = Files.readString(out.resolve("report.md"));
        assertThat(md).contains("## Results").contains("| plain AE | \\[4, 8, 8\\] (256) |").contains("| VMAE | – |");
        assertThat(md).contains("**plain AE** (preset `ae-cpu`, latent \\[4, 8, 8\\] = 256 floats)");
        assertThat(md).contains("# config: preset ae-cpu (saved as " + out.resolve("ae/run/train.yaml") + "); seed: 0 (global_seed of the preset)")
                .doesNotContain("Against the papers' claims"); // only plain models measured: nothing to compare
        assertThat(Files.readString(out.resolve("report.html"))).contains("<td>plain AE</td>");
    }
}
