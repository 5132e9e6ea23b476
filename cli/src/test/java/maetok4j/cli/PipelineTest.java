package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The stage runner with real commands: order, markers, logs, reuse, failure, resumption, refusal of another pipeline's folder. */
class PipelineTest {

    static final Path FIXTURE = CliRun.fixture("maetok-rope-mixed");

    @TempDir
    Path dir;

    final ByteArrayOutputStream console = new ByteArrayOutputStream();

    PrintStream console() {
        console.reset();
        return new PrintStream(console, true, StandardCharsets.UTF_8);
    }

    String consoleText() {
        return console.toString(StandardCharsets.UTF_8);
    }

    /** Encode the fixture's images, then decode the latents to PNGs in a folder the second stage owns. */
    List<Pipeline.Stage> encodeDecode(Path input, String... encodeExtra) {
        Path z = dir.resolve("z.safetensors");
        Path pngs = dir.resolve("decoded");
        List<String> encode = new ArrayList<>(List.of("encode", FIXTURE.toString(), input.toString(), "--out", z.toString()));
        encode.addAll(List.of(encodeExtra));
        return List.of(
                new Pipeline.Stage("encode", "images to latents", encode, List.of(z), null, List.of(), "the fixture model", "none"),
                new Pipeline.Stage("decode", "latents to PNGs", List.of("decode", FIXTURE.toString(), z.toString(), "--out", pngs.toString()),
                        List.of(pngs.resolve("000000.png"), pngs.resolve("000002.png")), pngs, List.of(), "the fixture model", "none"));
    }

    @Test
    void runsTheStagesInOrderWithMarkersAndLogsAndReusesWhatHasFinished() throws Exception {
        Pipeline p = new Pipeline(dir, encodeDecode(FIXTURE.resolve("io.safetensors")));
        List<Pipeline.Outcome> first = p.run(null, console());
        assertThat(first).extracting(Pipeline.Outcome::reused).containsExactly(false, false);
        assertThat(consoleText()).contains("[stage 1/2] encode: images to latents\n  maetok encode " + FIXTURE)
                .contains("[stage 2/2] decode: latents to PNGs").contains("done in");
        // a stage's own output goes to its log, not to the console
        assertThat(Files.readString(p.log(p.stage("encode")))).contains("encoded 3 image(s)");
        assertThat(consoleText()).doesNotContain("encoded 3 image(s)");
        JsonNode marker = Reports.JSON.readTree(p.marker(p.stage("decode")).toFile());
        assertThat(marker.path("command").asText()).isEqualTo(p.stage("decode").command());
        assertThat(marker.path("exit_code").asInt()).isZero();
        assertThat(marker.path("seconds").asDouble()).isPositive();
        assertThat(Files.list(dir.resolve(".stages")).map(f -> f.getFileName().toString()).toList())
                .containsExactlyInAnyOrder("encode.json", "decode.json");

        Path z = dir.resolve("z.safetensors");
        FileTime made = Files.getLastModifiedTime(z);
        List<Pipeline.Outcome> again = p.run(null, console());
        assertThat(again).extracting(Pipeline.Outcome::reused).containsExactly(true, true);
        assertThat(again.get(0).seconds()).isEqualTo(first.get(0).seconds());
        assertThat(consoleText()).contains("[stage 1/2] encode: reused");
        assertThat(Files.getLastModifiedTime(z)).isEqualTo(made);

        // a missing output makes its stage run again; the stages before it stay reused
        Files.delete(dir.resolve("decoded/000002.png"));
        assertThat(p.run(null, console())).extracting(Pipeline.Outcome::reused).containsExactly(true, false);
        assertThat(dir.resolve("decoded/000002.png")).exists();
        // and a stage that runs again makes every stage after it run again: they were made from what it replaces
        Files.delete(z);
        assertThat(p.run(null, console())).extracting(Pipeline.Outcome::reused).containsExactly(false, false);
        // a stage's folder that this command did not start is stale: it is replaced, not continued
        Files.delete(p.marker(p.stage("decode")));
        Files.writeString(dir.resolve("decoded/stale.txt"), "left by something else");
        assertThat(p.run(null, console())).extracting(Pipeline.Outcome::reused).containsExactly(true, false);
        assertThat(dir.resolve("decoded/stale.txt")).doesNotExist();
        assertThat(dir.resolve("decoded/000002.png")).exists();
        // --until stops early
        Files.delete(z);
        assertThat(p.run("encode", console())).hasSize(1);
        assertThat(p.finished(p.stage("decode"))).isFalse();
    }

    @Test
    void aFailedStageStopsThePipelineAndTheNextRunGoesOnFromIt() throws Exception {
        Path input = dir.resolve("input.safetensors");
        Pipeline p = new Pipeline(dir, encodeDecode(input));
        assertThatThrownBy(() -> p.run(null, console())).isInstanceOf(Pipeline.StageFailed.class)
                .hasMessage("stage 'encode' failed (exit 1): maetok encode " + FIXTURE + " " + input + " --out " + dir.resolve("z.safetensors")
                        + " (its output: " + p.log(p.stage("encode")) + ")");
        assertThat(p.marker(p.stage("encode"))).doesNotExist();
        assertThat(p.log(p.stage("decode"))).doesNotExist();
        Files.copy(FIXTURE.resolve("io.safetensors"), input);
        assertThat(p.run(null, console())).extracting(Pipeline.Outcome::reused).containsExactly(false, false);
        assertThat(dir.resolve(".stages/encode.running.json")).doesNotExist();
    }

    @Test
    void aFolderMadeByAnotherCommandIsRefused() throws Exception {
        new Pipeline(dir, encodeDecode(FIXTURE.resolve("io.safetensors"))).run("encode", console());
        Pipeline other = new Pipeline(dir, encodeDecode(FIXTURE.resolve("io.safetensors"), "--batch-size", "2"));
        assertThatThrownBy(() -> other.run(null, console())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(dir.resolve(".stages/encode.json") + ": stage 'encode' was made by `maetok encode ")
                .hasMessageContaining("`, not `" + other.stage("encode").command() + "`; give another --out");
    }

    @Test
    void anInterruptedTrainingContinuesWithItsResumeArguments() throws Exception {
        Path data = dir.resolve("data.safetensors");
        Path run = dir.resolve("run");
        Pipeline.Stage train = new Pipeline.Stage("train", "a 2-step training",
                List.of("train", "--preset", "cpu", "--out", run.toString(), "--steps", "2", "--data", data.toString(), "--no-progress"),
                List.of(run.resolve("tokenizer/config.json")), run, List.of("--resume"), "preset cpu", "0");
        Pipeline p = new Pipeline(dir, List.of(train));
        // the trainer makes its run folder, then fails on the missing data: an interrupted stage
        assertThatThrownBy(() -> p.run(null, console())).isInstanceOf(Pipeline.StageFailed.class).hasMessageContaining("stage 'train' failed");
        assertThat(run.resolve("train.yaml")).exists();
        try (NDManager m = NDManager.newBaseManager()) {
            // 128 held out (the preset's), 100 to train on: too few for its PCA baseline, which is skipped and so costs nothing
            maetok4j.tensor.Safetensors.write(data, Map.of("images", m.randomUniform(-1, 1, new Shape(228, 3, 32, 32))), Map.of());
        }
        assertThat(p.run(null, console())).extracting(Pipeline.Outcome::reused).containsExactly(false);
        assertThat(consoleText()).contains("continuing the interrupted run in " + run + " (--resume)");
        JsonNode marker = Reports.JSON.readTree(p.marker(train).toFile());
        assertThat(marker.path("resumed").asBoolean()).isTrue();
        assertThat(marker.path("ran").toString()).endsWith("\"--no-progress\",\"--resume\"]");
        assertThat(marker.path("command").asText()).doesNotContain("--resume");
        assertThat(Files.readString(p.log(train))).contains("train: 2 steps");
    }

    @Test
    void stagesAreValidatedAndQuotedForTheShell() {
        Pipeline.Stage s = new Pipeline.Stage("a-1", "t", List.of("eval", "stats", "my data", "it's", "--k", "1,2"), List.of(dir.resolve("x")),
                null, List.of(), "c", "0");
        assertThat(s.command()).isEqualTo("maetok eval stats 'my data' 'it'\\''s' --k 1,2");
        assertThatThrownBy(() -> new Pipeline.Stage("Bad_Name", "t", List.of("x"), List.of(dir), null, List.of(), "c", "0"))
                .hasMessageContaining("stage name 'Bad_Name'");
        assertThatThrownBy(() -> new Pipeline(dir, List.of(s, s))).hasMessageContaining("two stages are named 'a-1'");
        Pipeline.Stage outside = new Pipeline.Stage("o", "t", List.of("x"), List.of(dir), dir.getParent(), List.of(), "c", "0");
        assertThatThrownBy(() -> new Pipeline(dir, List.of(outside))).hasMessageContaining("must be inside " + dir);
        assertThatThrownBy(() -> new Pipeline.Stage("r", "t", List.of("x"), List.of(dir), null, List.of("--resume"), "c", "0"))
                .hasMessageContaining("resume arguments need the folder");
        assertThatThrownBy(() -> new Pipeline.Stage("s", "t", List.of("x"), List.of(dir), null, List.of(), "c", " "))
                .hasMessageContaining("seed");
    }
}
