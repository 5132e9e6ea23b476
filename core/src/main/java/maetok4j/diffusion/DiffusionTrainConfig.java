package maetok4j.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import maetok4j.config.Fields;
import maetok4j.config.YamlFiles;
import maetok4j.training.AdamW;
import maetok4j.training.CosineSchedule;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

import static maetok4j.config.Fields.require;

/**
 * A diffusion training run ({@code maetok train-diffusion}), read from a flat YAML file of snake_case keys. A
 * {@code preset} (S, B, L, XL, cpu) names the SiT size and its training defaults ({@code presets/NAME.yaml} over
 * {@code train-defaults.yaml}); the file's own keys override both. Every key is validated on load; unknown keys are
 * errors that name the file and the key. The optimisation keys mean what they mean for the tokenizer trainer.
 */
public record DiffusionTrainConfig(Model model, Objective objective, Optim optim, Run run, Data data) {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER));

    /** The bundled presets: the SiT paper's sizes with its recipe, and {@code cpu}, tuned for two cores. */
    public static final List<String> PRESETS = SiTConfig.PRESETS;

    /** How latents are scaled before training: one (mean, std) pair, one per channel, none, or by geometry. */
    public enum LatentNorm {
        /** scalar for token latents [L, C] (MAETok's vq_mean/vq_std), per channel for spatial ones [C, h, w] (LDMAE) */
        AUTO, SCALAR, CHANNEL, NONE;

        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The SiT: a preset's width, depth and heads unless given explicitly.
     *
     * @param patchSize spatial latents only (token latents always use 1, as the reference's {@code vae_1d})
     */
    public record Model(String preset, int hiddenSize, int depth, int numHeads, double mlpRatio, int patchSize, boolean qkNorm,
            double classDropoutProb) {
        public Model {
            require(preset == null || PRESETS.contains(preset), "preset '" + preset + "' is not one of " + String.join(", ", PRESETS));
            require(hiddenSize > 0 && depth > 0 && numHeads > 0, "hidden_size, depth and num_heads must be positive");
            require(hiddenSize % numHeads == 0, "hidden_size " + hiddenSize + " must be a multiple of num_heads " + numHeads);
            require(mlpRatio > 0, "mlp_ratio must be positive");
            require(patchSize >= 1, "patch_size must be at least 1");
            require(classDropoutProb >= 0 && classDropoutProb < 1, "class_dropout_prob must be in [0, 1)");
        }

        /**
         * The model for latents of the given geometry.
         *
         * @param inputSize tokens L of token latents [L, C], or the side of square spatial latents [C, s, s]
         */
        public SiTConfig sit(int inputSize, int inChannels, int numClasses, boolean vae1d) {
            return new SiTConfig(inputSize, vae1d ? 1 : patchSize, inChannels, hiddenSize, depth, numHeads, mlpRatio, classDropoutProb,
                    numClasses, hiddenSize, qkNorm, vae1d);
        }
    }

    /** The training objective: the interpolant, how times are drawn (the reference's {@code weighting}), latent scaling. */
    public record Objective(PathType pathType, Transport.TimeSampling weighting, LatentNorm latentNorm) {
        public Objective {
            Objects.requireNonNull(pathType);
            Objects.requireNonNull(weighting);
            Objects.requireNonNull(latentNorm);
        }
    }

    /**
     * AdamW, the learning rate (constant, or cosine to {@code min_lr_ratio}·lr, after a linear warm-up), clipping, the EMA
     * of the weights that is exported.
     */
    public record Optim(double lr, double weightDecay, double beta1, double beta2, int globalBatchSize, double maxGradNorm,
            String lrScheduler, int lrWarmupSteps, double minLrRatio, double emaDecay) {
        public Optim {
            require(lr > 0, "lr must be positive");
            require(weightDecay >= 0, "weight_decay must be non-negative");
            require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1 and beta2 must be in [0, 1)");
            require(globalBatchSize > 0, "global_batch_size must be positive");
            require(maxGradNorm >= 0, "max_grad_norm must be non-negative (0 turns clipping off)");
            require(lrScheduler.equals("none") || lrScheduler.equals("cosine"), "lr_scheduler must be none or cosine");
            require(lrWarmupSteps >= 0, "lr_warmup_steps must be non-negative");
            require(minLrRatio >= 0 && minLrRatio <= 1, "min_lr_ratio must be in [0, 1]");
            require(emaDecay >= 0 && emaDecay < 1, "ema_decay must be in [0, 1)");
        }

        public AdamW.Config adamW() {
            return new AdamW.Config(beta1, beta2, 1e-8, weightDecay);
        }

        /**
         * The learning rate by step over a run of {@code totalSteps}. The warm-up starts at lr/(w+1) rather than 0, so its
         * w steps rise as lr·(s+1)/(w+1) and none is wasted at rate 0.
         */
        public CosineSchedule schedule(long totalSteps) {
            double min = lrScheduler.equals("cosine") ? lr * minLrRatio : lr;
            return new CosineSchedule(lr, min, lr / (lrWarmupSteps + 1), lrWarmupSteps, totalSteps);
        }
    }

    /** Length, seed and the intervals of logging, held-out evaluation, plots and checkpoints. */
    public record Run(long globalSeed, long maxSteps, int logEvery, int evalEvery, int plotEvery, int ckptEvery, int keepLast) {
        public Run {
            require(maxSteps > 0, "max_steps must be positive");
            require(logEvery > 0 && evalEvery > 0 && plotEvery > 0 && ckptEvery > 0, "log_every, eval_every, plot_every and ckpt_every must be positive");
            require(keepLast >= 1, "keep_last must be at least 1");
        }
    }

    /**
     * The latents and the held-out part that {@code val_loss} is measured on.
     *
     * @param latents    a latent store folder or a tensor file (null: the command line names it)
     * @param valLatents latents held out of training (whole image-and-mirror groups); 0 for none
     * @param valRepeats (time, noise) draws per held-out latent
     */
    public record Data(Path latents, int valLatents, int valRepeats) {
        public Data {
            require(valLatents >= 0, "val_latents must be non-negative");
            require(valRepeats >= 1, "val_repeats must be at least 1");
        }
    }

    // ---- loading ----------------------------------------------------------------------------------------

    /** Reads a YAML file; errors name the file (and the field). */
    public static DiffusionTrainConfig load(Path file) {
        JsonNode root = YamlFiles.read(file);
        try {
            return parse(root, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** A bundled preset as it is. */
    public static DiffusionTrainConfig preset(String name) {
        require(PRESETS.contains(name), "unknown diffusion preset '" + name + "' (" + String.join(", ", PRESETS) + ")");
        return parse(JsonNodeFactory.instance.objectNode().put("preset", name), null);
    }

    /**
     * @param base folder that a relative {@code latents} path is resolved against; null for the working directory
     */
    public static DiffusionTrainConfig parse(JsonNode root, Path base) {
        require(root != null && root.isObject(), "the config is not a mapping of keys to values");
        ObjectNode defaults = resource("train-defaults.yaml");
        JsonNode presetNode = root.get("preset");
        String preset = null;
        if (presetNode != null && !presetNode.isNull()) {
            require(presetNode.isTextual(), "field 'preset' must be a string, got " + presetNode);
            preset = presetNode.asText();
            require(PRESETS.contains(preset), "field 'preset': unknown SiT preset '" + preset + "' (" + String.join(", ", PRESETS) + ")");
            defaults.setAll(resource("presets/" + preset + ".yaml"));
            // the preset's architecture, unless the file gives its own
            SiTConfig size = SiTConfig.preset(preset, 1, 1, 1, 1, true);
            defaults.put("hidden_size", size.hiddenSize()).put("depth", size.depth()).put("num_heads", size.numHeads());
        }
        Fields f = new Fields((ObjectNode) root, defaults);
        f.get("preset");
        for (String k : List.of("hidden_size", "depth", "num_heads")) {
            require(f.has(k) || defaults.hasNonNull(k), "give a 'preset' (" + String.join(", ", PRESETS) + ") or all of hidden_size, depth and num_heads"
                    + " (missing '" + k + "')");
        }
        Model model = new Model(preset, f.integer("hidden_size"), f.integer("depth"), f.integer("num_heads"), f.number("mlp_ratio"),
                f.integer("patch_size"), f.bool("qk_norm"), f.number("class_dropout_prob"));
        Objective objective = new Objective(PathType.valueOf(f.choice("path_type", "linear", "cosine").toUpperCase(Locale.ROOT)),
                Transport.TimeSampling.valueOf(f.choice("weighting", "uniform", "lognormal").toUpperCase(Locale.ROOT)),
                LatentNorm.valueOf(f.choice("latent_norm", "auto", "scalar", "channel", "none").toUpperCase(Locale.ROOT)));
        Optim optim = new Optim(f.number("lr"), f.number("weight_decay"), f.number("beta1"), f.number("beta2"), f.integer("global_batch_size"),
                f.number("max_grad_norm"), f.choice("lr_scheduler", "none", "cosine"), f.integer("lr_warmup_steps"), f.number("min_lr_ratio"),
                f.number("ema_decay"));
        Run run = new Run(f.longInteger("global_seed"), f.longInteger("max_steps"), f.integer("log_every"), f.integer("eval_every"),
                f.integer("plot_every"), f.integer("ckpt_every"), f.integer("keep_last"));
        String latents = f.optionalString("latents");
        Data data = new Data(latents == null ? null : resolve(Path.of(latents), base), f.integer("val_latents"), f.integer("val_repeats"));
        f.rejectUnknown();
        return new DiffusionTrainConfig(model, objective, optim, run, data);
    }

    private static Path resolve(Path p, Path base) {
        return p.isAbsolute() || base == null ? p : base.resolve(p);
    }

    private static ObjectNode resource(String name) {
        try (InputStream in = DiffusionTrainConfig.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("bundled resource " + name + " is missing");
            }
            JsonNode n = YAML.readTree(in);
            return n instanceof ObjectNode o ? o : JsonNodeFactory.instance.objectNode();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- changes and the resolved file ------------------------------------------------------------------

    /** The same run with another length (the command line's {@code --steps}). */
    public DiffusionTrainConfig withSteps(long steps) {
        Run r = run;
        return new DiffusionTrainConfig(model, objective, optim,
                new Run(r.globalSeed(), steps, r.logEvery(), r.evalEvery(), r.plotEvery(), r.ckptEvery(), r.keepLast()), data);
    }

    /** The same run on other latents (the command line's {@code --latents}). */
    public DiffusionTrainConfig withLatents(Path latents) {
        return new DiffusionTrainConfig(model, objective, optim, run, new Data(latents, data.valLatents(), data.valRepeats()));
    }

    /** The same run with the latent scaling decided (what {@code auto} became for the data). */
    public DiffusionTrainConfig withLatentNorm(LatentNorm norm) {
        return new DiffusionTrainConfig(model, new Objective(objective.pathType(), objective.weighting(), norm), optim, run, data);
    }

    /** Every key with its value, in the order of the defaults file: the run's {@code config.yaml}, which loads back to this config. */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (model.preset() != null) {
            o.put("preset", model.preset());
        }
        o.put("hidden_size", model.hiddenSize()).put("depth", model.depth()).put("num_heads", model.numHeads())
                .put("mlp_ratio", model.mlpRatio()).put("patch_size", model.patchSize()).put("qk_norm", model.qkNorm())
                .put("class_dropout_prob", model.classDropoutProb());
        o.put("path_type", objective.pathType().name().toLowerCase(Locale.ROOT))
                .put("weighting", objective.weighting().name().toLowerCase(Locale.ROOT)).put("latent_norm", objective.latentNorm().key());
        o.put("lr", optim.lr()).put("weight_decay", optim.weightDecay()).put("beta1", optim.beta1()).put("beta2", optim.beta2())
                .put("global_batch_size", optim.globalBatchSize()).put("max_grad_norm", optim.maxGradNorm())
                .put("lr_scheduler", optim.lrScheduler()).put("lr_warmup_steps", optim.lrWarmupSteps()).put("min_lr_ratio", optim.minLrRatio())
                .put("ema_decay", optim.emaDecay());
        o.put("global_seed", run.globalSeed()).put("max_steps", run.maxSteps()).put("log_every", run.logEvery())
                .put("eval_every", run.evalEvery()).put("plot_every", run.plotEvery()).put("ckpt_every", run.ckptEvery())
                .put("keep_last", run.keepLast());
        if (data.latents() != null) {
            o.put("latents", data.latents().toAbsolutePath().normalize().toString());
        }
        o.put("val_latents", data.valLatents()).put("val_repeats", data.valRepeats());
        return o;
    }

    public String toYaml() {
        try {
            return YAML.writeValueAsString(toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Keys a resumed run may change: how long it runs and how often it reports. */
    static final Set<String> RESUMABLE_CHANGES = Set.of("max_steps", "log_every", "eval_every", "plot_every", "ckpt_every", "keep_last");

    /** The keys whose values differ from {@code other}'s, apart from the ones a resumed run may change. */
    public List<String> trajectoryDifferences(DiffusionTrainConfig other) {
        ObjectNode a = toJson();
        ObjectNode b = other.toJson();
        List<String> out = new ArrayList<>();
        Set<String> keys = new java.util.LinkedHashSet<>();
        a.fieldNames().forEachRemaining(keys::add);
        b.fieldNames().forEachRemaining(keys::add);
        for (Iterator<String> it = keys.iterator(); it.hasNext(); ) {
            String k = it.next();
            if (!RESUMABLE_CHANGES.contains(k) && !Objects.equals(a.get(k), b.get(k))) {
                out.add(k);
            }
        }
        return out;
    }
}
