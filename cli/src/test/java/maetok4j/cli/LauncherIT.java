package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The packaged jar through the {@code ./maetok} launcher, as a user runs it. */
class LauncherIT {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {}

    static Result maetok(String... args) throws IOException, InterruptedException {
        return maetok(10, args);
    }

    /**
     * Runs the launcher with its output in files: a long run's progress bars would fill a pipe that nobody reads
     * while the other is being read, and block it.
     */
    static Result maetok(int minutes, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("maetok.launcher", "../maetok"));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("maetok-it", ".out");
        Path err = Files.createTempFile("maetok-it", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("maetok " + String.join(" ", args) + ": still running after " + minutes + " minutes");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void encodeAndDecodeThroughTheLauncherReproduceTheFixture() throws Exception {
        Path fixture = CliRun.fixture("maetok-rope-mixed");
        Path z = tmp.resolve("z.safetensors");
        Path y = tmp.resolve("y.safetensors");
        Result enc = maetok("encode", fixture.toString(), fixture.resolve("io.safetensors").toString(), "--out", z.toString());
        assertThat(enc.code()).as(enc.err()).isZero();
        Result dec = maetok("decode", fixture.toString(), z.toString(), "--out", y.toString());
        assertThat(dec.code()).as(dec.err()).isZero();
        try (NDManager m = NDManager.newBaseManager(); Safetensors io = Safetensors.open(fixture.resolve("io.safetensors"));
                Safetensors zf = Safetensors.open(z); Safetensors yf = Safetensors.open(y)) {
            assertThat(CliTest.relativeError(zf.read("latents", m), io.read("latents", m))).isLessThan(1e-4);
            assertThat(CliTest.relativeError(yf.read("images", m), io.read("reconstructions", m).clip(-1, 1))).isLessThan(1e-4); // images files hold [-1, 1]
        }
    }

    @Test
    void exitCodesAndErrorsAreClean() throws Exception {
        Result info = maetok("info", "maetok-b-128", "--json");
        assertThat(info.code()).as(info.err()).isZero();
        assertThat(info.out()).contains("\"parameters\" : 173891360");
        assertThat(info.err()).doesNotContain("WARN").doesNotContain("Exception");

        Result usage = maetok("frobnicate");
        assertThat(usage.code()).isEqualTo(2);

        Result failure = maetok("info", tmp.resolve("missing").toString());
        assertThat(failure.code()).isEqualTo(1);
        assertThat(failure.err().strip().lines().count()).isEqualTo(1);
    }

    /** What CI runs for issue 9: the demo's whole chain, a few steps per stage, then a re-run that reuses every stage. */
    @Test
    void theDemoRunsEndToEndWithSmokeAndARerunReusesEveryStage() throws Exception {
        Path out = tmp.resolve("demo");
        Result r = maetok(30, "demo", "--smoke", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("demo finished in", "(14 stage(s) run, 0 reused)", "diffusion model:");
        String md = Files.readString(out.resolve("report.md"));
        assertThat(md).contains("## Tokenizer training", "## Reconstruction", "## Latent space", "## Diffusion", "## Samples", "## Stages",
                "](samples/plain/grid.png)", "](samples/guided/grid.png)", "maetok train-diffusion --preset cpu --latents " + out.resolve("latents"));
        assertThat(figures(md)).isEqualTo(embedded(Files.readString(out.resolve("report.html")))).isGreaterThanOrEqualTo(7);
        Result again = maetok(10, "demo", "--smoke", "--out", out.toString());
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("(0 stage(s) run, 14 reused)");
    }

    /** What CI runs for issue 9: the study's whole chain, a few steps per stage, every model measured. */
    @Test
    void theStudyRunsEndToEndWithSmoke() throws Exception {
        Path out = tmp.resolve("study");
        Result r = maetok(30, "study", "--smoke", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("study finished in", "(42 stage(s) run, 0 reused)");
        String md = Files.readString(out.resolve("report.md"));
        assertThat(md).contains("## Results", "## What this shows", "Against the papers' claims", "](gmm.png)", "](vmae/samples/grid.png)");
        for (String model : List.of("plain AE", "VAE", "AE + mask modelling", "MAETok", "MAETok + decoder fine-tuning", "VMAE")) {
            assertThat(md).contains("\n| " + model + " | ");
        }
        assertThat(figures(md)).isEqualTo(embedded(Files.readString(out.resolve("report.html")))).isGreaterThanOrEqualTo(7);
    }

    static long figures(String markdown) {
        return java.util.regex.Pattern.compile("!\\[[^\\]]*\\]\\(").matcher(markdown).results().count();
    }

    static long embedded(String html) {
        return java.util.regex.Pattern.compile("<img src=\"data:image/png;base64,").matcher(html).results().count();
    }
}
