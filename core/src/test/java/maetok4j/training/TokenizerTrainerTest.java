package maetok4j.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.TokenizerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The trainer end to end on a tiny tokenizer: every loss (aux HOG and pixel, PatchGAN with LeCAM, DiffAugment, CR). */
class TokenizerTrainerTest {

    static {
        Engines.configure();
    }

    static final String TINY = String.join("\n",
            "model: maetok-cpu",
            "model_args:",
            "  image_size: 16",
            "  dec_drop_path_rate: 0.0",
            "  num_latent_tokens: 4",
            "  codebook_embed_dim: 4",
            "  encoder_dims: {embed_dim: 32, depth: 1, num_heads: 2}",
            "  decoder_dims: {embed_dim: 32, depth: 1, num_heads: 2}",
            "  aux_decoder_dims: {embed_dim: 32, depth: 1, num_heads: 2}",
            "dataset: emoji-noto-64",
            "image_size: 16",
            "val_images: 8",
            "num_workers: 1",
            "max_steps: 20",
            "log_every: 1",
            "eval_every: 10",
            "ckpt_every: 10",
            "ema_decay: 0.9",
            "enc_token_drop: 0.4",
            "enc_token_drop_max: 0.6",
            "aux_hog_decoder: true",
            "aux_pixel_decoder: true",
            "disc_weight: 0.5",
            "disc_start: 5",
            "disc_dim: 8",
            "disc_num_layers: 1",
            "disc_adaptive_weight: true",
            "lecam_loss_weight: 0.001",
            "use_diff_aug: true",
            "disc_cr_loss_weight: 1.0",
            "global_batch_size: 8",
            "gradient_accumulation_steps: 2",
            "lr: 1.0e-3",
            "scale_lr: false",
            "lr_warmup_steps: 3",
            "finetune_max_steps: 6",
            "");

    static TrainConfig tiny(String... overrides) throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectNode root = (ObjectNode) yaml.readTree(TINY);
        for (String o : overrides) {
            root.setAll((ObjectNode) yaml.readTree(o));
        }
        return TrainConfig.parse(root, null);
    }

    private static final TokenizerTrainer.Listener QUIET = new TokenizerTrainer.Listener() {};

    @Test
    void resumingContinuesTheSameTrajectory(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny();
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir.resolve("full"), null, false, QUIET)) {
            t.run();
        }
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir.resolve("split"), null, false, QUIET)) {
            t.run(7); // interrupted mid-way, between checkpoints, while the GAN is on
        }
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir.resolve("split"), null, true, QUIET)) {
            assertThat(t.step()).isEqualTo(7);
            t.run();
        }
        List<Map<String, Double>> full = MetricsLog.read(dir.resolve("full/metrics.jsonl"));
        List<Map<String, Double>> split = MetricsLog.read(dir.resolve("split/metrics.jsonl"));
        assertThat(split).hasSameSizeAs(full).hasSize(20);
        for (int i = 0; i < full.size(); i++) {
            Map<String, Double> a = full.get(i);
            Map<String, Double> b = split.get(i);
            assertThat(b.keySet()).isEqualTo(a.keySet());
            for (String k : a.keySet()) {
                if (k.equals("img_per_s") || k.equals("rss_mb") || k.equals("heap_mb")) {
                    continue;
                }
                assertThat(b.get(k)).as("step %d, %s", i + 1, k).isCloseTo(a.get(k), org.assertj.core.data.Offset.offset(1e-5 * Math.max(1, Math.abs(a.get(k)))));
            }
        }
        assertThat(full.get(19)).containsKeys("loss", "rec_loss", "aux_hog", "aux_pixel", "gen_adv_loss", "adaptive_weight",
                "disc_loss", "disc_lecam", "disc_cr", "grad_norm", "disc_grad_norm", "val_psnr", "val_ssim");
        assertThat(full.get(3)).doesNotContainKey("gen_adv_loss"); // before disc_start
        assertThat(dir.resolve("split/tokenizer/model.safetensors")).exists();
        assertThat(dir.resolve("full/plots/loss.png")).exists();
        assertThat(dir.resolve("full/plots/reconstructions.png")).exists();
        assertThat(dir.resolve("full/checkpoints/best/state.json")).exists();
    }

    @Test
    void nativeArrayCountStaysFlatOver200Steps(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("max_steps: 200", "log_every: 50", "eval_every: 100", "ckpt_every: 100", "gradient_accumulation_steps: 1");
        List<Integer> counts = new ArrayList<>();
        TokenizerTrainer[] holder = new TokenizerTrainer[1];
        TokenizerTrainer.Listener probe = new TokenizerTrainer.Listener() {
            @Override
            public void step(long step, double loss, double imagesPerSecond) {
                if (step > 6) { // after the discriminator's optimiser created its moments
                    counts.add(holder[0].nativeArrays());
                }
            }
        };
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir, null, false, probe)) {
            holder[0] = t;
            t.run();
        }
        assertThat(counts).hasSize(194).containsOnly(counts.get(0));
    }

    @Test
    void decoderFinetuningFreezesTheEncoderAndDropsTheAuxiliaryDecoders(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("max_steps: 3");
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir.resolve("s1"), null, false, QUIET)) {
            t.run();
        }
        TrainConfig ft = c.forFinetune();
        try (TokenizerTrainer t = new TokenizerTrainer(ft, TokenizerTrainer.Stage.DECODER_FINETUNE, dir.resolve("s2"), dir.resolve("s1"), false, QUIET)) {
            assertThat(t.model().auxDecoders()).isEmpty();
            assertThat(t.totalSteps()).isEqualTo(6);
            Map<String, float[]> before = snapshot(t);
            t.run();
            Map<String, float[]> after = snapshot(t);
            int changed = 0;
            for (String k : before.keySet()) {
                boolean same = java.util.Arrays.equals(before.get(k), after.get(k));
                if (k.startsWith("encoder.") || k.startsWith("quant_conv.")) {
                    assertThat(same).as("frozen %s", k).isTrue();
                } else if (!same) {
                    changed++;
                }
            }
            assertThat(changed).isGreaterThan(10);
        }
        TokenizerConfig exported = Checkpoints.readConfig(dir.resolve("s2/tokenizer"));
        assertThat(exported.auxDecoders()).isEmpty();
        List<Map<String, Double>> rows = MetricsLog.read(dir.resolve("s2/metrics.jsonl"));
        assertThat(rows.get(0).get("mask_ratio")).isEqualTo(0.6);
        assertThat(rows.get(3).get("mask_ratio")).isCloseTo(0.3, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(rows.get(0)).doesNotContainKey("aux_hog").containsKey("gen_adv_loss"); // finetune_disc_start 0
    }

    private static Map<String, float[]> snapshot(TokenizerTrainer t) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : t.model().stateDict().entrySet()) {
            out.put(e.getKey(), e.getValue().array().toFloatArray());
        }
        return out;
    }

    @Test
    void divergenceStopsNamingTheStepAndTermAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("lr: 1.0e+30", "max_grad_norm: 0.0", "ckpt_every: 1", "disc_weight: 0.0", "ema: false");
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir, null, false, QUIET)) {
            assertThatThrownBy(t::run).isInstanceOf(TokenizerTrainer.DivergedException.class)
                    .hasMessageMatching("step \\d+: (loss term '\\w+' is (NaN|-?Infinity)|the generator's gradient norm is (NaN|-?Infinity) \\(first at [\\w.]+\\)); the last good checkpoint is kept");
            long reached = t.step();
            RunCheckpoints.Saved last = new RunCheckpoints(dir.resolve("checkpoints"), 2).latest();
            assertThat(last.step()).isEqualTo(reached);
            assertThat(Files.exists(dir.resolve("tokenizer"))).isFalse();
        }
    }

    /** Teacher features (a TorchScript ViT) as an auxiliary target and an LPIPS-style perceptual loss, end to end. */
    @Test
    void teacherTargetsAndThePerceptualLossTrainThroughTorchScript(@TempDir Path dir) throws Exception {
        Path teacher = maetok4j.TestFiles.resource("torchscript/teacher.pt");
        Path features = maetok4j.TestFiles.resource("torchscript/features.pt");
        TrainConfig c = tiny("model_args: {image_size: 32, enc_patch_size: 8, dec_patch_size: 8, num_latent_tokens: 4,"
                        + " codebook_embed_dim: 4, dec_drop_path_rate: 0.0, encoder_dims: {embed_dim: 32, depth: 1, num_heads: 2},"
                        + " decoder_dims: {embed_dim: 32, depth: 1, num_heads: 2}, aux_decoder_dims: {embed_dim: 32, depth: 1, num_heads: 2}}",
                "image_size: 32", "max_steps: 3", "disc_weight: 0.0", "aux_pixel_decoder: false",
                "aux_dino_decoder: true", "aux_dino_model: " + teacher, "perceptual_weight: 0.5", "perceptual_model: " + features);
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir, null, false, QUIET)) {
            assertThat(t.model().config.auxTargetDims()).containsEntry("dino", 24);
            t.run();
        }
        List<Map<String, Double>> rows = MetricsLog.read(dir.resolve("metrics.jsonl"));
        assertThat(rows).hasSize(3);
        for (Map<String, Double> r : rows) {
            assertThat(r).containsKeys("aux_dino", "aux_hog", "perceptual_loss");
            assertThat(r.get("aux_dino")).isBetween(-1.0, 1.0); // a negative cosine
            assertThat(r.get("perceptual_loss")).isPositive();
        }
    }

    @Test
    void checkFiniteNamesTheStepAndTheTerm() {
        Map<String, Double> logs = new LinkedHashMap<>();
        logs.put("rec_loss", 0.5);
        logs.put("aux_hog", Double.NaN);
        assertThatThrownBy(() -> TokenizerRun.checkFinite(12, logs))
                .hasMessage("step 12: loss term 'aux_hog' is NaN; the last good checkpoint is kept");
    }

    @Test
    void aRunDirectoryWithCheckpointsIsNotOverwrittenWithoutResume(@TempDir Path dir) throws Exception {
        TrainConfig c = tiny("max_steps: 1", "disc_weight: 0.0");
        try (TokenizerTrainer t = new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir, null, false, QUIET)) {
            t.run();
        }
        assertThatThrownBy(() -> new TokenizerTrainer(c, TokenizerTrainer.Stage.MASK_MODELING, dir, null, false, QUIET))
                .hasMessageContaining("already holds checkpoints").hasMessageContaining("--resume");
    }
}
