package maetok4j.training;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.data.ImageGrid;
import maetok4j.data.ImageTensors;
import maetok4j.data.ImageTransform;
import maetok4j.losses.Hog;
import maetok4j.losses.TeacherFeatures;
import maetok4j.metrics.ReconstructionMetrics;
import maetok4j.nn.Parameter;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.MAETok;
import maetok4j.tokenizer.Presets;
import maetok4j.tokenizer.TokenMasking;
import maetok4j.tokenizer.TokenizerConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Trains a MAETok tokenizer in one of the paper's two stages.
 *
 * <p>Stage 1, mask modelling (spec §1.8–1.11): the encoder sees images with 40–60% of the patches replaced by
 * the mask token; the pixel decoder reconstructs the whole image (MSE, perceptual, adversarial losses) and the
 * auxiliary shallow decoders predict HOG, pixel or teacher features of the masked patches from the latent.
 *
 * <p>Stage 2, decoder fine-tuning (§1.12): the encoder is frozen (eval mode, no gradient), the auxiliary
 * decoders are dropped, and the pixel decoder trains with the same generator losses while the encoder's mask
 * ratio falls linearly to 0.
 *
 * <p>Every random choice of step s (mask ratio and positions, augmentation) comes from a generator seeded by
 * (seed, s), and the data order from (seed, epoch); a checkpoint therefore holds everything needed to continue
 * the same trajectory: weights, EMA, optimiser moments, discriminator and its optimiser, LeCAM averages.
 */
public final class TokenizerTrainer implements AutoCloseable {

    public enum Stage {
        MASK_MODELING("train"), DECODER_FINETUNE("finetune-decoder");

        public final String command;

        Stage(String command) {
            this.command = command;
        }
    }

    /** Progress callbacks for a front end (progress bar, log lines). */
    public interface Listener {
        default void begin(long firstStep, long totalSteps) {}

        default void step(long step, double loss, double imagesPerSecond) {}

        default void note(String message) {}
    }

    /** What a finished run reports. */
    public record Summary(Stage stage, long steps, long resumedFrom, double seconds, double imagesPerSecond,
            Map<String, Double> lastLogged, Double heldOutPsnr, Double heldOutSsim, Double bestPsnr, double[] pcaBaseline,
            Path tokenizer, long peakRssBytes) {

        /** The run's {@code summary.json} (also what {@code --json} writes). */
        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("stage", stage.command).put("steps", steps).put("resumed_from", resumedFrom)
                    .put("seconds", seconds).put("images_per_second", imagesPerSecond)
                    .put("peak_rss_bytes", peakRssBytes).put("tokenizer", String.valueOf(tokenizer));
            if (heldOutPsnr != null) {
                o.put("val_psnr", heldOutPsnr);
            }
            if (heldOutSsim != null) {
                o.put("val_ssim", heldOutSsim);
            }
            if (bestPsnr != null) {
                o.put("best_val_psnr", bestPsnr);
            }
            if (pcaBaseline != null) {
                o.put("pca_val_psnr", pcaBaseline[0]).put("pca_val_ssim", pcaBaseline[1]);
            }
            ObjectNode last = o.putObject("last_logged");
            lastLogged.forEach(last::put);
            return o;
        }
    }

    /** Training stopped on a NaN or infinite value; the last good checkpoint is kept. */
    public static final class DivergedException extends RuntimeException {
        public DivergedException(String message) {
            super(message);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainConfig config;
    private final Stage stage;
    private final Path runDir;
    private final Listener listener;
    private final NDManager manager;
    private final MAETok model;
    private final TokenizerRun loop;
    private final AdamW optimizer;
    private final Ema ema;
    private final Adversary adversary;
    private final GeneratorObjective objective;
    private final RunCheckpoints checkpoints;
    private final TokenMasking masking;

    /**
     * @param from stage 2 only: the stage-1 run directory or a tokenizer folder to fine-tune
     */
    public TokenizerTrainer(TrainConfig config, Stage stage, Path runDir, Path from, boolean resume, Listener listener) {
        this.config = config;
        this.stage = stage;
        this.runDir = runDir;
        this.listener = listener;
        this.checkpoints = new RunCheckpoints(runDir.resolve("checkpoints"), config.run().keepLast());
        RunCheckpoints.Saved latest = checkpoints.start(resume, listener::note);
        manager = NDManager.newBaseManager();
        boolean ok = false;
        try {
            TokenizerConfig modelConfig = latest != null ? Checkpoints.readConfig(latest.folder()) : modelConfig(config, stage, from);
            model = latest != null ? RunCheckpoints.loadModel(latest.folder(), modelConfig, manager)
                    : initialModel(modelConfig, stage, from, config.run().globalSeed(), manager);
            if (stage == Stage.DECODER_FINETUNE) {
                model.encoder.setTrainable(false);
                model.quantConv.setTrainable(false);
            }
            trainingMode();
            loop = new TokenizerRun(config, stage, runDir, model.imageSize(), listener, manager);
            optimizer = new AdamW(config.optim().adamW(), manager);
            ema = config.run().ema() ? new Ema(model, manager) : null;
            adversary = config.gan().enabled() ? new Adversary(config, config.run().globalSeed(), manager) : null;
            objective = new GeneratorObjective(config, stage, model, adversary);
            masking = new TokenMasking(modelConfig.encTokenDrop(), modelConfig.encTokenDropMax());
            RunCheckpoints.State restored = latest != null ? checkpoints.restore(latest, optimizer, ema, adversary) : null;
            loop.start(restored != null ? restored.step() : 0, restored != null ? restored.bestPsnr() : Double.NEGATIVE_INFINITY,
                    model.config.numLatentTokens() * model.config.latentChannels(), manager);
            TrainStep.enableGradients(model);
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    // ---- the model of each stage ------------------------------------------------------------------------

    /** Stage 1: the named architecture, with the model_args overrides and one auxiliary decoder per target. */
    static TokenizerConfig modelConfig(TrainConfig config, Stage stage, Path from) {
        if (stage == Stage.DECODER_FINETUNE) {
            TokenizerConfig c = Checkpoints.readConfig(stage2Source(from));
            ObjectNode json = (ObjectNode) c.toJson();
            json.remove(List.of("aux_decoders", "aux_decoder_dims", "aux_target_dims"));
            return TokenizerConfig.fromJson(json);
        }
        String name = config.run().model();
        ObjectNode json;
        if (Presets.exists(name)) {
            json = (ObjectNode) Presets.get(name).toJson();
        } else if (Files.isDirectory(Path.of(name))) {
            json = (ObjectNode) Checkpoints.readConfig(Path.of(name)).toJson();
        } else {
            throw new IllegalArgumentException("model '" + name + "' is neither a tokenizer preset ("
                    + String.join(", ", Presets.all().keySet()) + ") nor a checkpoint folder");
        }
        if (config.run().modelArgs() != null) {
            json.setAll(config.run().modelArgs());
        }
        if (config.data().imageSize() != null) {
            json.put("image_size", config.data().imageSize());
        }
        for (String k : new String[] {"enc_drop_path_rate", "dec_drop_path_rate"}) {
            if (json.path(k).asDouble(0) > 0) {
                throw new IllegalArgumentException("model: " + k + " is " + json.path(k).asDouble() + ", but stochastic depth is not"
                        + " implemented for training; set it to 0 in model_args (the reference trainer does not pass it either, spec §1.11)");
            }
        }
        json.put("enc_token_drop", config.aux().encTokenDrop()).put("enc_token_drop_max", config.aux().encTokenDropMax());
        json.put("aux_dec_model", config.aux().auxDecoderModel());
        ArrayNode aux = json.putArray("aux_decoders");
        ObjectNode dims = json.putObject("aux_target_dims");
        int patch = json.path("enc_patch_size").asInt();
        for (TrainConfig.Target t : config.aux().targets()) {
            aux.add(t.name());
            if (t.name().equals("hog")) {
                dims.put("hog", Hog.featuresPerToken(patch));
            } else if (t.name().equals("pixel")) {
                dims.put("pixel", 3 * patch * patch);
            } else {
                dims.put(t.name(), TeacherFeatures.configOf(t.teacher()).dim());
            }
        }
        if (config.aux().targets().isEmpty()) {
            json.remove(List.of("aux_decoders", "aux_target_dims"));
        }
        try {
            return TokenizerConfig.fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model: " + e.getMessage());
        }
    }

    /** A stage-1 run directory means its exported tokenizer. */
    static Path stage2Source(Path from) {
        if (from == null) {
            throw new IllegalArgumentException("decoder fine-tuning needs --from (a stage-1 run directory or a tokenizer folder)");
        }
        Path exported = from.resolve("tokenizer");
        return Files.isDirectory(exported) ? exported : from;
    }

    private static MAETok initialModel(TokenizerConfig c, Stage stage, Path from, long seed, NDManager manager) {
        if (stage == Stage.DECODER_FINETUNE) {
            return RunCheckpoints.loadModel(stage2Source(from), c, manager);
        }
        return MAETok.create(c, manager, seed);
    }

    // ---- the loop ---------------------------------------------------------------------------------------

    public Summary run() {
        return run(loop.totalSteps());
    }

    /**
     * Trains until {@code stopAt} (at most the run's length), saving a checkpoint there; a later trainer with
     * {@code resume} continues the same trajectory. The tokenizer is exported when the run is complete.
     */
    public Summary run(long stopAt) {
        return loop.run(stopAt, new TokenizerRun.Model() {
            @Override
            public Map<String, Double> step(long step, List<DataLoader.Batch> micro) {
                return trainStep(step, micro);
            }

            @Override
            public NDArray reconstruct(NDArray images) {
                return model.reconstruct(images);
            }

            @Override
            public void withEvalWeights(Runnable body) {
                TokenizerTrainer.this.withEvalWeights(body);
            }

            @Override
            public void saveCheckpoint(long step, double bestPsnr, boolean best) {
                checkpoints.save(step, model, optimizer, ema, adversary, bestPsnr, best);
            }

            @Override
            public void saveTokenizer(Path folder) {
                model.save(folder);
            }

            @Override
            public boolean isLossTerm(String k) {
                return k.equals("loss") || k.startsWith("rec_") || k.startsWith("aux_") || k.startsWith("perceptual")
                        || k.startsWith("gen_") || k.startsWith("disc_loss");
            }
        });
    }

    /** One optimisation step over the micro-batches (gradient accumulation), then the discriminator's step. */
    private Map<String, Double> trainStep(long step, List<DataLoader.Batch> micro) {
        SplittableRandom rng = new SplittableRandom(TrainStep.rngSeed(config.run().globalSeed(), step));
        double lr = loop.lr(step);
        double ratio = maskRatio(step, rng);
        Map<String, Parameter> trainable = model.trainableParameters();
        Map<String, Double> logs = new LinkedHashMap<>();
        try (NDManager scope = manager.newSubManager()) {
            for (Parameter p : model.stateDict().values()) {
                p.array().tempAttach(scope);
            }
            if (adversary != null) {
                adversary.attach(scope);
            }
            List<NDArray[]> pairs = new ArrayList<>(); // [real, reconstruction] for the discriminator
            for (DataLoader.Batch b : micro) {
                NDArray x = b.images(scope); // [B, 3, S, S]
                NDArray mask = ratio > 0 ? mask(b.size(), ratio, rng, scope) : null;
                GeneratorObjective.Result r = objective.forwardBackward(x, mask, step, 1.0 / micro.size(), rng);
                r.terms().forEach((k, v) -> logs.merge(k, v / micro.size(), Double::sum));
                pairs.add(new NDArray[] {x, r.reconstruction()});
            }
            TokenizerRun.checkFinite(step + 1, logs);
            Gradients.Norm norm = Gradients.clipGlobalNorm(trainable, config.optim().maxGradNorm());
            if (!norm.finite()) {
                throw new DivergedException("step " + (step + 1) + ": the generator's gradient norm " + norm.describe()
                        + "; the last good checkpoint is kept");
            }
            optimizer.update(trainable, lr, scope);
            Gradients.zero(trainable.values());
            if (ema != null) {
                ema.update(model, config.run().emaDecay());
            }
            logs.put("grad_norm", norm.value());
            if (adversary != null) {
                logs.putAll(adversary.discriminatorStep(pairs, step, lr, rng, scope));
                TokenizerRun.checkFinite(step + 1, logs);
            }
        }
        logs.put("lr", lr);
        logs.put("mask_ratio", ratio);
        return logs;
    }

    /** Native arrays alive under this trainer (model, optimiser, EMA, discriminator, data): the leak guard's measure. */
    int nativeArrays() {
        return ((ai.djl.ndarray.BaseNDManager) manager).getManagedArrays().size();
    }

    /** Stage 1 draws the truncated-normal ratio; stage 2 lets it fall linearly from finetune_mask_start to 0. */
    private double maskRatio(long step, SplittableRandom rng) {
        if (stage == Stage.DECODER_FINETUNE) {
            long over = config.finetune().maskSteps() != null ? config.finetune().maskSteps() : loop.totalSteps();
            return TokenMasking.linearDecay(config.finetune().maskStart(), step, over);
        }
        return masking.high() > 0 ? masking.sampleRatio(rng) : 0;
    }

    private NDArray mask(int batch, double ratio, SplittableRandom rng, NDManager scope) {
        int n = model.config.encoderGrid() * model.config.encoderGrid();
        return OwnedArrays.of(scope, TokenMasking.sampleMask(batch, n, ratio, rng), new Shape(batch, n)); // [B, N]
    }

    // ---- evaluation, figures, export --------------------------------------------------------------------

    /** Training mode for what trains; the frozen encoder of stage 2 stays in eval mode. */
    private void trainingMode() {
        model.train(true);
        if (stage == Stage.DECODER_FINETUNE) {
            model.encoder.train(false);
            model.quantConv.train(false);
        }
    }

    /** Runs {@code body} in eval mode with the EMA weights (when kept), then restores training mode and weights. */
    private void withEvalWeights(Runnable body) {
        Runnable inEval = () -> {
            model.train(false);
            try {
                body.run();
            } finally {
                trainingMode();
            }
        };
        if (ema != null) {
            ema.withAveraged(model, inEval);
        } else {
            inEval.run();
        }
    }

    public MAETok model() {
        return model;
    }

    public long step() {
        return loop.step();
    }

    public long totalSteps() {
        return loop.totalSteps();
    }

    @Override
    public void close() {
        if (loop != null) {
            loop.close();
        }
        if (adversary != null) {
            adversary.close();
        }
        if (objective != null) {
            objective.close();
        }
        manager.close();
    }
}
