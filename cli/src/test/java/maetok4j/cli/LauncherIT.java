package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("maetok.launcher", "../maetok"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
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
            assertThat(CliTest.relativeError(yf.read("images", m), io.read("reconstructions", m))).isLessThan(1e-4);
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
}
