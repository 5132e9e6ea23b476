package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.training.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code maetok demo}: its stages as data, and the chain end to end with --smoke as far as --until takes it. */
class DemoCommandTest {

    @TempDir
    Path dir;

    @Test
    void theDemoIsAChainOfMaetokCommandsWithSeedZero() {
        for (boolean smoke : new boolean[] {false, true}) {
            List<Pipeline.Stage> stages = DemoCommand.stages(dir, smoke);
            new Pipeline(dir, stages); // names unique, folders inside dir
            assertThat(stages).extracting(Pipeline.Stage::name).containsExactly("train-tokenizer", "finetune-decoder", "train-classifier",
                    "reference-stats", "eval-recon", "cache-latents", "gmm", "probe", "scatter", "train-diffusion", "sample-plain",
                    "sample-guided", "eval-samples-plain", "eval-samples-guided");
            for (Pipeline.Stage s : stages) {
                StageChains.parse(s); // a usage error would throw
            }
            Pipeline.Stage diffusion = stages.get(9);
            assertThat(diffusion.args()).isEqualTo(Stages.args(List.of("train-diffusion", "--preset", "cpu", "--latents",
                    dir.resolve("latents").toString(), "--out", dir.resolve("diffusion").toString()), smoke ? List.of("--steps", "2") : List.of()));
            assertThat(diffusion.outputs()).contains(dir.resolve("diffusion/model/config.json"), dir.resolve("diffusion/summary.json"));
            assertThat(diffusion.resumeArgs()).containsExactly("--resume");
            StageChains.assertEachStageReadsOnlyWhatEarlierStagesMade(dir, stages);
            StageChains.assertSeedsAreZero(stages);
            // the trainers take their seed from the preset, whose seed the report names
            assertThat(TrainConfig.preset("cpu").run().globalSeed()).isZero();
            assertThat(stages.get(0).seed()).startsWith("0 ");
            // a smoke run shrinks every long stage; a full one uses the presets' lengths
            for (String trainer : List.of("train-tokenizer", "finetune-decoder", "train-diffusion")) {
                Pipeline.Stage s = stages.stream().filter(x -> x.name().equals(trainer)).findFirst().orElseThrow();
                assertThat(s.args().contains("--steps")).as(trainer).isEqualTo(smoke);
            }
            Pipeline.Stage sample = stages.get(11);
            assertThat(sample.args()).containsSubsequence("--eval", smoke ? "18" : "900").containsSubsequence("--cfg", "3");
            assertThat(stages.get(10).args()).containsSubsequence("--cfg", "1");
            assertThat(sample.args().contains("--steps")).isEqualTo(smoke);
            assertThat(stages.get(2).args().contains("--epochs")).isEqualTo(smoke);
            // the reconstruction is scored on the trainer's own held-out images
            assertThat(stages.get(4).args()).containsSubsequence("--val-images", "128").containsSubsequence("--seed", "0");
            assertThat(TrainConfig.preset("cpu").data().valImages()).isEqualTo(128);
        }
    }

    @Test
    void listPrintsTheStagesAndRunsNothing() {
        CliRun r = CliRun.of("demo", "--list", "--out", dir.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().lines().count()).isEqualTo(14);
        assertThat(r.out()).contains(" 1. train-tokenizer        maetok train --preset cpu --out " + dir.resolve("maetok-stage1"));
        assertThat(dir.resolve(".stages")).doesNotExist();
        CliRun bad = CliRun.of("demo", "--until", "nothing", "--out", dir.toString());
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--until: no stage 'nothing' (stages: train-tokenizer, finetune-decoder,");
    }

    @Test
    void aSmokeDemoRunsItsStagesWritesBothReportsAndReusesEverythingOnARerun() throws Exception {
        Path out = dir.resolve("demo");
        Path json = dir.resolve("demo.json");
        CliRun r = CliRun.of("demo", "--smoke", "--until", "scatter", "--out", out.toString(), "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("[stage 1/14] train-tokenizer: MAETok stage 1", "[stage 9/14] scatter",
                "demo stopped after scatter in", "(9 stage(s) run, 0 reused, 5 not run)", "  report:        " + out.resolve("report.md"),
                "  tokenizer:     " + out.resolve("maetok-stage2/tokenizer"));
        assertThat(r.out()).doesNotContain("[stage 10/14]");

        String md = Files.readString(out.resolve("report.md"));
        String html = Files.readString(out.resolve("report.html"));
        // the numbers in the report are the stages' own
        JsonNode recon = Reports.JSON.readTree(out.resolve("eval/recon.json").toFile());
        assertThat(md).contains(String.format(Locale.ROOT, "| MAETok `cpu`, stage 2 | 128 (\\[16, 8\\]) | %.2f dB | %.3f |",
                recon.path("psnr").asDouble(), recon.path("ssim").asDouble()));
        assertThat(md).contains(String.format(Locale.ROOT, "| %.2f dB | %.3f | %.2f |", recon.path("pca_baseline").path("psnr").asDouble(),
                recon.path("pca_baseline").path("ssim").asDouble(), recon.path("pca_baseline").path("rfd").asDouble()));
        JsonNode probe = Reports.JSON.readTree(out.resolve("analysis/probe.json").toFile());
        assertThat(md).contains(String.format(Locale.ROOT, "| %.3f | %.3f |", probe.path("accuracy").asDouble(), probe.path("train_accuracy").asDouble()));
        // under each table its command, config and seed
        assertThat(md).contains("# config: the command line (PCA to 32 dimensions, standardised, diagonal covariances); seed: 0 (--seed: split"
                + " and EM initialisation)\nmaetok analyze gmm " + out.resolve("latents") + " --k 1,2,5");
        assertThat(md).contains("**This is a --smoke run**").contains("not run: `train-diffusion`, `sample-plain`");
        assertThat(md).contains("Made by `maetok demo --smoke --until scatter --out " + out);
        // every figure of the Markdown is embedded in the HTML, byte for byte
        Matcher links = Pattern.compile("!\\[[^\\]]*\\]\\(([^)]+)\\)").matcher(md);
        Matcher images = Pattern.compile("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
        int figures = 0;
        while (links.find()) {
            assertThat(images.find()).isTrue();
            assertThat(Base64.getDecoder().decode(images.group(1))).isEqualTo(Files.readAllBytes(out.resolve(links.group(1))));
            figures++;
        }
        assertThat(images.find()).isFalse();
        assertThat(figures).isEqualTo(5); // two reconstruction grids, the GMM curve, the probe's bars, the scatter (no loss curve after 2 steps)
        assertThat(md).contains("No stage-1 loss curve.");
        JsonNode summary = Reports.JSON.readTree(json.toFile());
        assertThat(summary.path("stages")).hasSize(9);
        assertThat(summary.path("outputs").path("report (HTML)").asText()).isEqualTo(out.resolve("report.html").toString());

        // a re-run reuses every stage and writes the same report
        String marker = Files.readString(out.resolve(".stages/train-tokenizer.json"));
        CliRun again = CliRun.of("demo", "--smoke", "--until", "scatter", "--out", out.toString());
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(again.out()).contains("[stage 1/14] train-tokenizer: reused", "(0 stage(s) run, 9 reused, 5 not run)");
        assertThat(Files.readString(out.resolve(".stages/train-tokenizer.json"))).isEqualTo(marker);
        assertThat(withoutInvocation(Files.readString(out.resolve("report.md")))).isEqualTo(withoutInvocation(md));

        // the folder of a smoke demo is not mixed with a full one
        CliRun full = CliRun.of("demo", "--until", "train-tokenizer", "--out", out.toString());
        assertThat(full.exitCode()).isEqualTo(1);
        assertThat(full.err().strip()).isEqualTo("maetok: " + out.resolve(".stages/train-tokenizer.json") + ": stage 'train-tokenizer' was made"
                + " by `maetok train --preset cpu --out " + out.resolve("maetok-stage1") + " --steps 2`, not `maetok train --preset cpu --out "
                + out.resolve("maetok-stage1") + "`; give another --out (or delete " + out + " to start over)");
    }

    /** The report before its stage table, without the line naming this invocation and its time. */
    static String withoutInvocation(String md) {
        return String.join("\n", md.substring(0, md.indexOf("## Stages")).lines().filter(l -> !l.startsWith("Made by ")).toList());
    }
}
