package maetok4j.diffusion;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DiffusionTrainConfigTest {

    private static DiffusionTrainConfig load(Path dir, String yaml) throws Exception {
        Path f = dir.resolve("config.yaml");
        Files.writeString(f, yaml);
        return DiffusionTrainConfig.load(f);
    }

    @Test
    void thePaperPresetsHaveThePapersRecipeAndSizes() {
        int[][] sizes = {{384, 12, 6}, {768, 12, 12}, {1024, 24, 16}, {1152, 28, 16}};
        String[] names = {"S", "B", "L", "XL"};
        for (int i = 0; i < names.length; i++) {
            DiffusionTrainConfig c = DiffusionTrainConfig.preset(names[i]);
            assertThat(new int[] {c.model().hiddenSize(), c.model().depth(), c.model().numHeads()}).as(names[i]).containsExactly(sizes[i]);
            assertThat(c.optim().lr()).isEqualTo(1e-4);
            assertThat(c.optim().lrScheduler()).isEqualTo("none");
            assertThat(c.optim().weightDecay()).isZero();
            assertThat(c.optim().beta1()).isEqualTo(0.9);
            assertThat(c.optim().beta2()).isEqualTo(0.999);
            assertThat(c.optim().globalBatchSize()).isEqualTo(256);
            assertThat(c.optim().emaDecay()).isEqualTo(0.9999);
            assertThat(c.optim().maxGradNorm()).isEqualTo(1.0); // train_sit.py --max-grad-norm
            assertThat(c.model().classDropoutProb()).isEqualTo(0.1);
            assertThat(c.objective().pathType()).isEqualTo(PathType.LINEAR);
            assertThat(c.objective().latentNorm()).isEqualTo(DiffusionTrainConfig.LatentNorm.AUTO);
            assertThat(c.optim().schedule(10).lr(0)).isEqualTo(1e-4);
        }
        DiffusionTrainConfig cpu = DiffusionTrainConfig.preset("cpu");
        assertThat(cpu.model().hiddenSize()).isEqualTo(192);
        assertThat(cpu.model().depth()).isEqualTo(6);
        assertThat(cpu.run().maxSteps()).isLessThan(10_000);
        assertThatThrownBy(() -> DiffusionTrainConfig.preset("XXL")).hasMessageContaining("unknown diffusion preset 'XXL'");
    }

    @Test
    void aFileNamesAPresetAndOverridesItsKeys(@TempDir Path dir) throws Exception {
        DiffusionTrainConfig c = load(dir, "preset: S\ndepth: 4\nlr: 3.0e-4\nweighting: uniform\npath_type: cosine\nlatents: z\n");
        assertThat(c.model().hiddenSize()).isEqualTo(384);
        assertThat(c.model().depth()).isEqualTo(4);
        assertThat(c.optim().lr()).isEqualTo(3e-4);
        assertThat(c.optim().globalBatchSize()).isEqualTo(256); // still the preset's
        assertThat(c.objective().weighting()).isEqualTo(Transport.TimeSampling.UNIFORM);
        assertThat(c.objective().pathType()).isEqualTo(PathType.COSINE);
        assertThat(c.data().latents()).isEqualTo(dir.toAbsolutePath().resolve("z")); // relative to the file
        DiffusionTrainConfig explicit = load(dir, "hidden_size: 64\ndepth: 2\nnum_heads: 4\nmax_steps: 7\n");
        assertThat(explicit.model().preset()).isNull();
        assertThat(explicit.model().hiddenSize()).isEqualTo(64);
        assertThat(explicit.run().maxSteps()).isEqualTo(7);
    }

    @Test
    void theResolvedFileLoadsBackToTheSameConfig(@TempDir Path dir) throws Exception {
        DiffusionTrainConfig c = load(dir, "preset: cpu\nlr: 2.0e-4\nlatent_norm: channel\nlatents: /data/z\nlr_scheduler: none\nmin_lr_ratio: 0.0\n");
        DiffusionTrainConfig again = load(dir, c.toYaml());
        assertThat(again).isEqualTo(c);
        assertThat(again.trajectoryDifferences(c)).isEmpty();
        assertThat(c.withSteps(5).trajectoryDifferences(c)).isEmpty(); // a resumed run may run longer
        assertThat(load(dir, "preset: cpu\nlr: 3.0e-4\nglobal_seed: 2\nlatents: /data/z\n").trajectoryDifferences(c))
                .containsExactlyInAnyOrder("lr_scheduler", "min_lr_ratio", "latent_norm", "lr", "global_seed");
    }

    @Test
    void theWarmUpRisesLinearlyToTheRateAndCosineEndsAtTheFloor(@TempDir Path dir) throws Exception {
        var s = load(dir, "preset: cpu\nlr: 1.0e-3\nlr_warmup_steps: 3\nmax_steps: 10\nlr_scheduler: none\n").optim().schedule(10);
        assertThat(s.lr(0)).isEqualTo(0.25e-3, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(s.lr(2)).isEqualTo(0.75e-3, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(s.lr(3)).isEqualTo(1e-3);
        assertThat(s.lr(9)).isEqualTo(1e-3);
        var cosine = load(dir, "preset: cpu\nlr: 1.0e-3\nlr_warmup_steps: 0\nlr_scheduler: cosine\nmin_lr_ratio: 0.1\n").optim().schedule(10);
        assertThat(cosine.lr(0)).isEqualTo(1e-3);
        assertThat(cosine.lr(10)).isEqualTo(1e-4, org.assertj.core.data.Offset.offset(1e-15));
    }

    @Test
    void errorsNameTheFileAndTheField(@TempDir Path dir) {
        String base = "preset: cpu\n";
        assertThatThrownBy(() -> load(dir, base + "lr_rate: 0.1\n")).hasMessageEndingWith("config.yaml: unknown field 'lr_rate'")
                .hasMessageStartingWith(dir.toString());
        assertThatThrownBy(() -> load(dir, base + "lr: fast\n")).hasMessageEndingWith("config.yaml: field 'lr' must be a number, got \"fast\"");
        assertThatThrownBy(() -> load(dir, base + "path_type: vp\n")).hasMessageEndingWith("field 'path_type' must be one of linear, cosine, got 'vp'");
        assertThatThrownBy(() -> load(dir, base + "weighting: edm\n")).hasMessageContaining("field 'weighting' must be one of uniform, lognormal");
        assertThatThrownBy(() -> load(dir, base + "latent_norm: pca\n")).hasMessageContaining("field 'latent_norm' must be one of auto, scalar, channel, none");
        assertThatThrownBy(() -> load(dir, "preset: XXL\n")).hasMessageContaining("config.yaml: field 'preset': unknown SiT preset 'XXL'");
        assertThatThrownBy(() -> load(dir, "hidden_size: 64\ndepth: 2\n")).hasMessageContaining("missing 'num_heads'");
        assertThatThrownBy(() -> load(dir, base + "num_heads: 5\n")).hasMessageContaining("hidden_size 192 must be a multiple of num_heads 5");
        assertThatThrownBy(() -> load(dir, base + "class_dropout_prob: 1.0\n")).hasMessageContaining("class_dropout_prob must be in [0, 1)");
        assertThatThrownBy(() -> load(dir, base + "ema_decay: 1.0\n")).hasMessageContaining("ema_decay must be in [0, 1)");
        assertThatThrownBy(() -> load(dir, base + "max_steps: 0\n")).hasMessageContaining("max_steps must be positive");
        assertThatThrownBy(() -> load(dir, base + "val_repeats: 0\n")).hasMessageContaining("val_repeats must be at least 1");
        assertThatThrownBy(() -> load(dir, "- a\n")).hasMessageContaining("not a mapping");
        assertThatThrownBy(() -> load(dir, "preset: [cpu\n")).hasMessageContaining("not valid YAML");
        assertThatThrownBy(() -> DiffusionTrainConfig.load(dir.resolve("missing.yaml"))).hasMessageEndingWith("missing.yaml: no such file");
    }
}
