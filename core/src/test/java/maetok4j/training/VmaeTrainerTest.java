package maetok4j.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.training.TokenizerTrainer.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The VMAE trainer end to end on a tiny VMAE (16 px, 16 tokens): learning, the leak guard, exact resume, decoder tuning, config checks. */
class VmaeTrainerTest {

    static {
        Engines.configure();
    }

    private static final String TINY = String.join("\n",
            "model: vmae-cpu",
            "model_args: {embed_dim: 32, decoder_embed_dim: 32, depth: 1, decoder_depth: 1, num_heads: 2, decoder_num_heads: 2}",
            "dataset: emoji-noto-64",
            "image_size: 16",
            "val_images: 8",
            "num_workers: 1",
            "max_steps: 30",
            "log_every: 1",
            "eval_every: 10",
            "ckpt_every: 10",
            "ema_decay: 0.9",
            "mask_ratio: 0.25",
            "global_batch_size: 8",
            "lr: 2.0e-3",
            "scale_lr: false",
            "lr_warmup_steps: 3",
            "finetune_max_steps: 4",
            "");

    private static final TokenizerTrainer.Listener QUIET = new TokenizerTrainer.Listener() {};

    private static TrainConfig tiny(String... overrides) throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectNode root = (ObjectNode) yaml.readTree(TINY);
        for (String o : overrides) {
            root.setAll((ObjectNode) yaml.readTree(o));
        }
        return TrainConfig.parse(root, null);
    }

    @Test
    void thirtyStepsLowerTheLossAndKeepTheNativeArrayCountFlat(@TempDir Path dir) throws Exception {
        List<Integer> counts = new ArrayList<>();
        VmaeTrainer[] holder = new VmaeTrainer[1];
        TokenizerTrainer.Listener probe = new TokenizerTrainer.Listener() {
            @Override
            public void step(long step, double loss, double imagesPerSecond) {
                if (step > 1) { // after the optimiser created its moments
                    counts.add(holder[0].nativeArrays());
                }
            }
        };
        try (VmaeTrainer t = new VmaeTrainer(tiny(), Stage.MASK_MODELING, dir, null, false, probe)) {
            holder[0] = t;
            t.run();
        }
        assertThat(counts).hasSize(29).containsOnly(counts.get(0));
        List<Map<String, Double>> rows = MetricsLog.read(dir.resolve("metrics.jsonl"));
        assertThat(rows).hasSize(30);
        assertThat(rows.get(29)).containsKeys("loss", "vis_loss", "mask_loss", "kl_loss", "grad_norm", "lr", "val_psnr", "val_ssim");
        double first = rows.subList(0, 5).stream().mapToDouble(r -> r.get("loss")).average().orElseThrow();
        double last = rows.subList(25, 30).stream().mapToDouble(r -> r.get("loss")).average().orElseThrow();
        assertThat(last).isLessThan(0.8 * first);
        assertThat(dir.resolve("tokenizer/model.safetensors")).exists();
        assertThat(dir.resolve("checkpoints/step-00000030/" + RunCheckpoints.TRAINING_ONLY)).exists();
        assertThat(dir.resolve("plots/reconstructions.png")).exists();
        assertThat(dir.resolve("summary.json")).exists();
    }

    @Test
    void resumingContinuesTheSameTrajectory(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("max_steps: 12", "ckpt_every: 5", "eval_every: 6");
        try (VmaeTrainer t = new VmaeTrainer(c, Stage.MASK_MODELING, dir.resolve("full"), null, false, QUIET)) {
            t.run();
        }
        try (VmaeTrainer t = new VmaeTrainer(c, Stage.MASK_MODELING, dir.resolve("split"), null, false, QUIET)) {
            t.run(7); // interrupted between checkpoints
        }
        try (VmaeTrainer t = new VmaeTrainer(c, Stage.MASK_MODELING, dir.resolve("split"), null, true, QUIET)) {
            assertThat(t.step()).isEqualTo(7);
            t.run();
        }
        List<Map<String, Double>> full = MetricsLog.read(dir.resolve("full/metrics.jsonl"));
        List<Map<String, Double>> split = MetricsLog.read(dir.resolve("split/metrics.jsonl"));
        assertThat(split).hasSameSizeAs(full).hasSize(12);
        for (int i = 0; i < full.size(); i++) {
            for (String k : List.of("loss", "vis_loss", "mask_loss", "kl_loss", "grad_norm")) {
                assertThat(split.get(i).get(k)).as("step %d %s", i + 1, k).isCloseTo(full.get(i).get(k), org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @Test
    void decoderTuningFreezesTheEncoderAtTheNewSizeUnlessAskedNotTo(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("max_steps: 3", "finetune_image_size: 32");
        try (VmaeTrainer t = new VmaeTrainer(c, Stage.MASK_MODELING, dir.resolve("s1"), null, false, QUIET)) {
            t.run();
        }
        for (boolean unfreeze : new boolean[] {false, true}) {
            TrainConfig ft = tiny("max_steps: 3", "finetune_image_size: 32", "vmae_unfreeze_encoder: " + unfreeze).forFinetune();
            try (VmaeTrainer t = new VmaeTrainer(ft, Stage.DECODER_FINETUNE, dir.resolve("s2-" + unfreeze), dir.resolve("s1"), false, QUIET)) {
                assertThat(t.model().imageSize()).isEqualTo(32);
                assertThat(t.totalSteps()).isEqualTo(4);
                Map<String, float[]> before = snapshot(t);
                t.run();
                Map<String, float[]> after = snapshot(t);
                for (String k : List.of("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "norm.weight", "to_latent.weight")) {
                    assertThat(Arrays.equals(before.get(k), after.get(k))).as("%s unchanged (unfreeze %s)", k, unfreeze).isEqualTo(!unfreeze);
                }
                assertThat(Arrays.equals(before.get("decoder_blocks.0.attn.qkv.weight"), after.get("decoder_blocks.0.attn.qkv.weight"))).isFalse();
            }
        }
    }

    private static Map<String, float[]> snapshot(VmaeTrainer t) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : t.model().stateDict().entrySet()) {
            out.put(e.getKey(), e.getValue().array().toFloatArray());
        }
        return out;
    }

    @Test
    void eachFamilyRejectsTheOthersKeysAndEveryPresetLoads() {
        assertThatThrownBy(() -> tiny("disc_weight: 0.1")).hasMessage(
                "field 'disc_weight' is a MAETok option, but model 'vmae-cpu' is a VMAE (remove the key or change the model)");
        assertThatThrownBy(() -> TokenizerTrainerTest.tiny("mask_ratio: 0.5")).hasMessageContaining(
                "field 'mask_ratio' is a VMAE option, but model 'maetok-cpu' is a MAETok");
        assertThatThrownBy(() -> tiny("kl_form: gaussian")).hasMessageContaining("field 'kl_form' must be one of fixed_std, standard");
        assertThatThrownBy(() -> tiny("kl_form: standard")).hasMessageContaining("KL std must be 1");
        assertThatThrownBy(() -> tiny("mask_ratoi: 0.5")).hasMessage("unknown field 'mask_ratoi'");
        for (String p : TrainConfig.presets()) {
            TrainConfig c = TrainConfig.preset(p);
            assertThat(c.isVmae()).as(p).isEqualTo(!p.equals("cpu") && !p.equals("maetok-b-128"));
        }
        assertThat(TrainConfig.preset("dae-cpu").vmae().objective().inputNoiseStd()).isPositive();
        assertThat(TrainConfig.preset("vae-cpu").vmae().objective().klForm()).isEqualTo(VmaeObjective.KlForm.STANDARD);
    }
}
