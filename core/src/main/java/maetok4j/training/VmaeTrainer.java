package maetok4j.training;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.data.ImageGrid;
import maetok4j.data.ImageTensors;
import maetok4j.data.ImageTransform;
import maetok4j.losses.Perceptual;
import maetok4j.metrics.ReconstructionMetrics;
import maetok4j.nn.Module;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.CheckpointException;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.Presets;
import maetok4j.tokenizer.VMAE;
import maetok4j.tokenizer.VmaeConfig;
import maetok4j.tokenizer.VmaeMasking;
import maetok4j.training.TokenizerTrainer.DivergedException;
import maetok4j.training.TokenizerTrainer.Listener;
import maetok4j.training.TokenizerTrainer.Stage;
import maetok4j.training.TokenizerTrainer.Summary;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static maetok4j.config.Fields.require;

/**
 * Trains a VMAE, or one of the baselines the paper compares it with (plain, denoising and variational
 * autoencoders, with or without masking: the same model and {@link VmaeObjective} with other switches), in
 * one of the reference recipe's stages (spec §2.5):
 *
 * <ul>
 *   <li>{@link Stage#MASK_MODELING}, pre-training: a fresh model, 25% of the patch tokens dropped before the
 *       encoder and the learnable mask token in their place for the decoder; the loss of {@link VmaeObjective}.</li>
 *   <li>{@link Stage#DECODER_FINETUNE}, decoder tuning: a trained tokenizer (a run directory or a tokenizer folder),
 *       optionally at another image size (position tables resized bilinearly, as the reference's
 *       {@code load_model}); no masking, no KL, the decoder fed the posterior mean (the reference's
 *       {@code use_mode=True}). The encoder side (patch_embed, blocks, norm, to_latent) is frozen as the paper
 *       says, unless {@code vmae_unfreeze_encoder} asks for what the reference code actually does.</li>
 * </ul>
 *
 * <p>The run is {@link TokenizerTrainer}'s ({@link TokenizerRun}): the same data split, loader order, schedule,
 * held-out PSNR and SSIM with the PCA baseline, {@code metrics.jsonl}, plots, checkpoints and exact resume, summary. Each
 * step's random numbers (input noise, masking noise, ε) come from a generator seeded by (seed, step).
 *
 * <p>The mask token is training-only: the inference VMAE and the released checkpoint have none, so the
 * exported {@code tokenizer/} folder does not hold it; checkpoints keep it in {@code training_only.safetensors}
 * (key {@code mask_token}, as the reference's state dict) so that a resumed run continues exactly.
 */
public final class VmaeTrainer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The VMAE with its training-only mask token, as one parameter tree for the optimiser, the EMA and {@link TrainStep}. */
    private static final class Trained extends Module {
        Trained(VMAE model, VmaeMasking masking) {
            child("model", model);
            if (masking != null) {
                child("masking", masking);
            }
        }
    }

    private final TrainConfig config;
    private final Stage stage;
    private final Path runDir;
    private final Listener listener;
    private final NDManager manager;
    private final RunCheckpoints checkpoints;
    private VMAE model;
    private VmaeMasking masking;
    private Trained trained;
    private Perceptual perceptual;
    private VmaeObjective objective;
    private TokenizerRun loop;
    private AdamW optimizer;
    private Ema ema;

    /**
     * @param from decoder tuning only: the pre-training run directory or a VMAE tokenizer folder
     */
    public VmaeTrainer(TrainConfig config, Stage stage, Path runDir, Path from, boolean resume, Listener listener) {
        require(config.isVmae(), "model '" + config.run().model() + "' is not a VMAE: use TokenizerTrainer");
        require(config.optim().gradientAccumulationSteps() == 1,
                "gradient_accumulation_steps must be 1 for a VMAE (accumulation is not implemented for it)");
        this.config = config;
        this.stage = stage;
        this.runDir = runDir;
        this.listener = listener;
        this.checkpoints = new RunCheckpoints(runDir.resolve("checkpoints"), config.run().keepLast());
        RunCheckpoints.Saved latest = checkpoints.start(resume, listener::note);
        manager = NDManager.newBaseManager();
        boolean ok = false;
        try {
            build(latest, from);
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    private void build(RunCheckpoints.Saved latest, Path from) {
        long seed = config.run().globalSeed();
        VmaeObjective.Options options = options();
        if (latest != null) {
            model = load(latest.folder(), null);
        } else if (stage == Stage.DECODER_FINETUNE) {
            model = load(TokenizerTrainer.stage2Source(from), config.vmae().finetuneImageSize());
        } else {
            model = VMAE.create(modelConfig(config), manager, seed);
        }
        if (options.masks(model.config.numPatches())) {
            masking = new VmaeMasking(model.config);
            masking.initialize(manager, seed + 1);
            if (latest != null) {
                restoreMaskToken(latest.folder());
            }
        }
        if (stage == Stage.DECODER_FINETUNE && !config.vmae().unfreezeEncoder()) {
            for (Module part : List.of(model.patchEmbed, model.blocks, model.norm, model.toLatent)) {
                part.setTrainable(false);
            }
        }
        trained = new Trained(model, masking);
        if (options.perceptualWeight() > 0) {
            perceptual = Perceptual.load(config.losses().perceptualModel());
        }
        objective = new VmaeObjective(model, masking, options, perceptual);

        loop = new TokenizerRun(config, stage, runDir, model.imageSize(), listener, manager);
        optimizer = new AdamW(config.optim().adamW(), manager);
        ema = config.run().ema() ? new Ema(trained, manager) : null;
        RunCheckpoints.State restored = latest != null ? checkpoints.restore(latest, optimizer, ema, null) : null;
        loop.start(restored != null ? restored.step() : 0, restored != null ? restored.bestPsnr() : Double.NEGATIVE_INFINITY,
                model.config.numPatches() * model.config.latentDim(), manager);
        TrainStep.enableGradients(trained);
    }

    /** Pre-training uses the configured objective; decoder tuning the reference's {@code --tune_decoder} one: no mask, no KL, no input noise. */
    private VmaeObjective.Options options() {
        VmaeObjective.Options o = config.vmae().objective();
        if (stage == Stage.MASK_MODELING) {
            return o;
        }
        return new VmaeObjective.Options(0, o.visibleLossRatio(), o.normPixLoss(), o.klForm(), o.klStd(), 0, o.perceptualWeight(), 0);
    }

    /** The named VMAE architecture (a preset or a folder's config.json) with the model_args and image_size overrides. */
    static VmaeConfig modelConfig(TrainConfig config) {
        String name = config.run().model();
        VmaeConfig preset = Presets.vmae(name);
        ObjectNode json = preset != null ? preset.toJson() : (ObjectNode) readConfig(Path.of(name));
        if (config.run().modelArgs() != null) {
            json.setAll(config.run().modelArgs());
        }
        if (config.data().imageSize() != null) {
            json.put("img_size", config.data().imageSize());
        }
        try {
            return VmaeConfig.fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model: " + e.getMessage());
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode readConfig(Path folder) {
        Path file = folder.resolve(Checkpoints.CONFIG);
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** A VMAE tokenizer folder's model, at {@code imageSize} when given (position tables resized to its grid). */
    private VMAE load(Path folder, Integer imageSize) {
        VmaeConfig c = VmaeConfig.fromJson(readConfig(folder));
        if (imageSize != null) {
            c = c.withImgSize(imageSize);
        }
        Path weights = folder.resolve(Checkpoints.WEIGHTS);
        require(Files.isRegularFile(weights), weights + ": no such file");
        try (Safetensors file = Safetensors.open(weights)) {
            return VMAE.load(c, file, manager, StateDict.Mode.STRICT, new ArrayList<>());
        }
    }

    private void restoreMaskToken(Path checkpoint) {
        Path file = checkpoint.resolve(RunCheckpoints.TRAINING_ONLY);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file + ": no such file (the checkpoint has no mask token)");
        }
        try (Safetensors s = Safetensors.open(file)) {
            masking.maskToken.set(s.read("mask_token", manager));
        }
    }

    // ---- the loop ---------------------------------------------------------------------------------------

    public Summary run() {
        return run(loop.totalSteps());
    }

    /** Trains until {@code stopAt} (at most the run's length), saving a checkpoint there; exports the tokenizer when the run is complete. */
    public Summary run(long stopAt) {
        return loop.run(stopAt, new TokenizerRun.Model() {
            @Override
            public Map<String, Double> step(long step, List<DataLoader.Batch> micro) {
                return trainStep(step, micro.get(0)); // gradient accumulation is refused for a VMAE
            }

            @Override
            public NDArray reconstruct(NDArray images) {
                return model.reconstruct(images); // decodes the posterior mean
            }

            @Override
            public void withEvalWeights(Runnable body) {
                // the VMAE has no dropout, so no mode switch
                if (ema != null) {
                    ema.withAveraged(trained, body);
                } else {
                    body.run();
                }
            }

            @Override
            public void saveCheckpoint(long step, double bestPsnr, boolean best) {
                checkpoints.save(step, model, trainingOnly(), optimizer, ema, null, bestPsnr, best);
            }

            @Override
            public void saveTokenizer(Path folder) {
                model.save(folder); // the plain VMAE: no mask token
            }

            @Override
            public boolean isLossTerm(String k) {
                return k.equals("loss") || k.endsWith("_loss");
            }
        });
    }

    /** One optimisation step in its own native scope; the loss parts as the reference logs them, plus grad_norm and lr. */
    private Map<String, Double> trainStep(long step, DataLoader.Batch batch) {
        SplittableRandom rng = new SplittableRandom(TrainStep.rngSeed(config.run().globalSeed(), step));
        double lr = loop.lr(step);
        Map<String, Double> terms = new LinkedHashMap<>();
        TrainStep.Result r;
        try {
            r = TrainStep.run(trained, manager, scope -> {
                VmaeObjective.Result result = objective.loss(batch.images(scope), draws(rng, batch.size())); // images [B, 3, S, S]
                terms.putAll(result.terms());
                return result.loss();
            }, optimizer, lr, config.optim().maxGradNorm());
        } catch (TrainStep.NonFiniteException e) {
            throw new DivergedException("step " + (step + 1) + ": " + e.getMessage() + "; the last good checkpoint is kept");
        }
        TokenizerRun.checkFinite(step + 1, terms);
        if (ema != null) {
            ema.update(trained, config.run().emaDecay());
        }
        terms.put("grad_norm", r.gradNorm());
        terms.put("lr", lr);
        return terms;
    }

    /** The objective's draws; decoder tuning decodes the posterior mean (ε = 0), as the reference's {@code use_mode=True}. */
    private VmaeObjective.Draws draws(SplittableRandom rng, int batch) {
        VmaeObjective.Draws d = objective.draw(rng, batch);
        if (stage == Stage.DECODER_FINETUNE && d.eps() != null) {
            return new VmaeObjective.Draws(d.inputNoise(), d.maskNoise(), new float[d.eps().length]);
        }
        return d;
    }

    private Map<String, NDArray> trainingOnly() {
        return masking == null ? Map.of() : Map.of("mask_token", masking.maskToken.array());
    }

    /** Native arrays alive under this trainer (model, mask token, optimiser, EMA, data): the leak guard's measure. */
    int nativeArrays() {
        return ((BaseNDManager) manager).getManagedArrays().size();
    }

    public VMAE model() {
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
        if (perceptual != null) {
            perceptual.close();
        }
        if (model != null) {
            model.close();
        }
        manager.close();
    }
}
