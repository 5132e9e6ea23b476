package maetok4j.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainConfigTest {

    @Test
    void bundledPresetsLoadAndValidate() {
        for (String name : TrainConfig.presets()) {
            TrainConfig c = TrainConfig.preset(name);
            assertThat(c.run().model()).isNotBlank();
        }
        TrainConfig cpu = TrainConfig.preset("cpu");
        assertThat(cpu.aux().targets()).extracting(TrainConfig.Target::name).containsExactly("hog", "pixel");
        assertThat(cpu.aux().encTokenDrop()).isEqualTo(0.4);
        assertThat(cpu.aux().encTokenDropMax()).isEqualTo(0.6);
        TrainConfig paper = TrainConfig.preset("maetok-b-128");
        assertThat(paper.optim().baseLr()).isEqualTo(2e-4); // 1e-4 scaled by 512/256
        assertThat(paper.gan().discType()).isEqualTo("dino");
        assertThat(paper.gan().discStart()).isEqualTo(30000);
        assertThat(paper.losses().perceptualWeightAt(5000)).isEqualTo(0.5);
        assertThat(paper.aux().targets()).extracting(TrainConfig.Target::name).containsExactly("hog", "dino", "clip");
    }

    @Test
    void stepsComeFromMaxStepsOrEpochs(@TempDir Path dir) throws Exception {
        TrainConfig c = load(dir, "model: maetok-cpu\ndataset: emoji-noto-64\nepochs: 3\nglobal_batch_size: 100\nlr_warmup_epochs: 1\n");
        assertThat(c.totalSteps(1000)).isEqualTo(30);
        assertThat(c.warmupSteps(1000)).isEqualTo(10);
        assertThat(c.withSteps(7).totalSteps(1000)).isEqualTo(7);
        TrainConfig ft = load(dir, "model: maetok-cpu\ndataset: emoji-noto-64\nmax_steps: 50\nfinetune_max_steps: 20\nfinetune_disc_start: 4\n").forFinetune();
        assertThat(ft.totalSteps(1000)).isEqualTo(20);
        assertThat(ft.gan().discStart()).isEqualTo(4);
    }

    @Test
    void errorsNameTheFileAndTheField(@TempDir Path dir) {
        String base = "model: maetok-cpu\ndataset: emoji-noto-64\nmax_steps: 10\n";
        assertThatThrownBy(() -> load(dir, base + "lr: fast\n")).hasMessageEndingWith("field 'lr' must be a number, got \"fast\"")
                .hasMessageContaining("config.yaml: ");
        assertThatThrownBy(() -> load(dir, base + "disc_wieght: 0.4\n")).hasMessageEndingWith("unknown field 'disc_wieght'");
        assertThatThrownBy(() -> load(dir, base + "mixed_precision: bf16\n")).hasMessageContaining("mixed_precision 'bf16' is not supported");
        assertThatThrownBy(() -> load(dir, base + "perceptual_weight: 1.0\n")).hasMessageContaining("no perceptual_model");
        assertThatThrownBy(() -> load(dir, base + "aux_dino_decoder: true\n")).hasMessageContaining("no aux_dino_model");
        assertThatThrownBy(() -> load(dir, base + "disc_weight: 0.4\ndisc_type: dino\n")).hasMessageContaining("disc_model");
        assertThatThrownBy(() -> load(dir, base + "disc_type: stylegan\n")).hasMessageContaining("field 'disc_type' must be one of patchgan, dino");
        assertThatThrownBy(() -> load(dir, base + "epochs: 3\n")).hasMessageContaining("exactly one of 'max_steps' and 'epochs'");
        assertThatThrownBy(() -> load(dir, base + "global_batch_size: 10\ngradient_accumulation_steps: 3\n")).hasMessageContaining("multiple");
        assertThatThrownBy(() -> load(dir, base + "enc_token_drop: 0.7\nenc_token_drop_max: 0.6\n")).hasMessageContaining("enc_token_drop");
        assertThatThrownBy(() -> load(dir, base + "encoder_tuning_method: lora\n")).hasMessageContaining("LoRA");
        assertThatThrownBy(() -> load(dir, "- a\n- b\n")).hasMessageContaining("not a mapping");
        assertThatThrownBy(() -> load(dir, "model: [unclosed\n")).hasMessageContaining("not valid YAML");
        assertThatThrownBy(() -> TrainConfig.load(dir.resolve("missing.yaml"))).hasMessageEndingWith("missing.yaml: no such file");
        assertThatThrownBy(() -> TrainConfig.preset("gpu")).hasMessageContaining("unknown training preset 'gpu'");
    }

    @Test
    void relativePathsResolveAgainstTheConfigFolder(@TempDir Path dir) throws Exception {
        TrainConfig c = load(dir, "model: maetok-cpu\ndataset: emoji-noto-64\nmax_steps: 1\nperceptual_weight: 1.0\nperceptual_model: nets/lpips.pt\n");
        assertThat(c.losses().perceptualModel()).isEqualTo(dir.toAbsolutePath().resolve("nets/lpips.pt"));
    }

    private static TrainConfig load(Path dir, String yaml) throws Exception {
        Path f = dir.resolve("config.yaml");
        Files.writeString(f, yaml);
        return TrainConfig.load(f);
    }
}
