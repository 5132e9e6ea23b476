package maetok4j.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import maetok4j.config.Fields;
import maetok4j.config.YamlFiles;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.Presets;
import maetok4j.tokenizer.VmaeConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static maetok4j.config.Fields.require;

/**
 * A tokenizer training run, read from a flat YAML file whose keys are the reference trainer's
 * ({@code train_tokenizer.py} options and {@code configs/maetok-b-64.yaml}) where one exists. Every key is
 * validated on load; unknown keys are errors. Options of the reference that this project does not
 * implement (bf16 autocast, LoRA, VQ codebooks) are rejected with a message rather than ignored.
 *
 * <p>A {@code model} that names a VMAE preset ({@link Presets#vmae}) or a VMAE tokenizer folder trains a VMAE
 * ({@link VmaeTrainer}) and reads the {@link Vmae} keys; the keys of the other family ({@link #MAETOK_ONLY},
 * {@link #VMAE_ONLY}) are then errors naming the key, so a MAETok option cannot be silently ignored by a VMAE
 * run, nor the reverse. Shared keys (data, optimiser, schedule, EMA, logging, perceptual loss) mean the same in both.
 */
public record TrainConfig(Run run, Data data, Losses losses, Aux aux, Gan gan, Optim optim, Finetune finetune, Vmae vmae) {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Keys only the MAETok trainer reads. */
    static final List<String> MAETOK_ONLY = List.of("encoder_tuning_method", "decoder_tuning_method", "reconstruction_loss",
            "reconstruction_weight", "perceptual_warmup", "enc_token_drop", "enc_token_drop_max", "aux_loss_mask",
            "aux_decoder_model", "aux_hog_decoder", "aux_hog_weight", "aux_pixel_decoder", "aux_pixel_weight", "aux_dino_decoder",
            "aux_dino_weight", "aux_dino_model", "aux_clip_decoder", "aux_clip_weight", "aux_clip_model", "disc_weight",
            "disc_start", "disc_type", "disc_dim", "disc_num_layers", "disc_model", "disc_loss", "gen_loss",
            "disc_adaptive_weight", "lecam_loss_weight", "use_diff_aug", "disc_cr_loss_weight", "finetune_mask_start",
            "finetune_mask_steps", "finetune_disc_start");

    /** Keys only the VMAE trainer reads. */
    static final List<String> VMAE_ONLY = List.of("mask_ratio", "visible_loss_ratio", "norm_pix_loss", "kl_form", "kl_std",
            "kl_weight", "input_noise_std", "vmae_unfreeze_encoder", "finetune_image_size");

    /** What is trained, how long, and how the run is logged and saved. */
    public record Run(String model, ObjectNode modelArgs, long globalSeed, Long maxSteps, Integer epochs,
            int logEvery, int visEvery, int ckptEvery, int evalEvery, int keepLast, boolean saveBest, boolean ema,
            double emaDecay) {
        public Run {
            require(maxSteps == null ^ epochs == null, "give exactly one of 'max_steps' and 'epochs'");
            require(maxSteps == null || maxSteps > 0, "max_steps must be positive");
            require(epochs == null || epochs > 0, "epochs must be positive");
            require(logEvery > 0 && visEvery > 0 && ckptEvery > 0 && evalEvery > 0,
                    "log_every, vis_every, ckpt_every and eval_every must be positive");
            require(keepLast >= 1, "keep_last must be at least 1");
            require(emaDecay >= 0 && emaDecay < 1, "ema_decay must be in [0, 1)");
        }
    }

    /** The images: a dataset source ({@code maetok data list}), a held-out part for evaluation, augmentation. */
    public record Data(String dataset, Integer imageSize, int valImages, boolean randomCrop, boolean randomFlip, int numWorkers) {
        public Data {
            require(imageSize == null || imageSize > 0, "image_size must be positive");
            require(valImages >= 1, "val_images must be at least 1");
            require(numWorkers >= 1, "num_workers must be at least 1");
        }
    }

    /** Generator losses on pixels. */
    public record Losses(String reconstructionLoss, double reconstructionWeight, double perceptualWeight,
            Integer perceptualWarmup, Path perceptualModel) {
        public Losses {
            require(reconstructionWeight >= 0 && perceptualWeight >= 0, "loss weights must be non-negative");
            require(perceptualWarmup == null || perceptualWarmup >= 0, "perceptual_warmup must be non-negative");
            require(perceptualWeight == 0 || perceptualModel != null, "perceptual_weight is " + perceptualWeight
                    + " but no perceptual_model (a TorchScript LPIPS-style network with its .json) is given;"
                    + " set perceptual_weight: 0 or give the file");
        }

        /** The reference's linear warm-up of the perceptual weight. */
        public double perceptualWeightAt(long step) {
            if (perceptualWarmup == null || perceptualWarmup == 0) {
                return perceptualWeight;
            }
            return Math.min(1.0, (double) step / perceptualWarmup) * perceptualWeight;
        }
    }

    /** Mask modelling and the auxiliary shallow decoders. */
    public record Aux(double encTokenDrop, double encTokenDropMax, boolean auxLossMask, String auxDecoderModel,
            List<Target> targets) {
        public Aux {
            require(encTokenDrop >= 0 && encTokenDrop <= encTokenDropMax && encTokenDropMax < 1,
                    "mask ratios must satisfy 0 <= enc_token_drop <= enc_token_drop_max < 1");
            targets = List.copyOf(targets);
        }

        public boolean masking() {
            return encTokenDropMax > 0;
        }
    }

    /** One auxiliary target: hog, pixel, dino or clip (the last two from a TorchScript teacher). */
    public record Target(String name, double weight, Path teacher) {
        public Target {
            require(weight >= 0, "aux_" + name + "_weight must be non-negative");
            require(!(name.equals("dino") || name.equals("clip")) || teacher != null, "aux_" + name + "_decoder is on but no aux_"
                    + name + "_model (a TorchScript teacher with its .json) is given");
        }
    }

    /** The adversarial loss and its discriminator. */
    public record Gan(double discWeight, long discStart, String discType, int discDim, int discNumLayers, Path discModel,
            String discLoss, String genLoss, boolean discAdaptiveWeight, Double lecamLossWeight, boolean useDiffAug,
            double discCrLossWeight) {
        public Gan {
            require(discWeight >= 0 && discCrLossWeight >= 0, "disc_weight and disc_cr_loss_weight must be non-negative");
            require(discStart >= 0, "disc_start must be non-negative");
            require(discDim > 0 && discNumLayers > 0, "disc_dim and disc_num_layers must be positive");
            require(!discType.equals("dino") || discWeight == 0 || discModel != null,
                    "disc_type dino needs disc_model (a TorchScript DINO backbone with its .json)");
            require(lecamLossWeight == null || lecamLossWeight >= 0, "lecam_loss_weight must be non-negative");
        }

        public boolean enabled() {
            return discWeight > 0;
        }
    }

    /** AdamW (or Adam), the learning-rate schedule, clipping and accumulation. */
    public record Optim(String optimizer, double lr, boolean scaleLr, int globalBatchSize, int gradientAccumulationSteps,
            double weightDecay, double beta1, double beta2, double maxGradNorm, String lrScheduler, Integer lrWarmupSteps,
            Integer lrWarmupEpochs, double warmupLr, double minLrRatio) {
        public Optim {
            require(lr > 0, "lr must be positive");
            require(globalBatchSize > 0 && gradientAccumulationSteps > 0, "global_batch_size and gradient_accumulation_steps must be positive");
            require(globalBatchSize % gradientAccumulationSteps == 0, "global_batch_size (" + globalBatchSize
                    + ") must be a multiple of gradient_accumulation_steps (" + gradientAccumulationSteps + ")");
            require(maxGradNorm >= 0 && weightDecay >= 0, "max_grad_norm and weight_decay must be non-negative");
            require(!(lrWarmupSteps != null && lrWarmupEpochs != null), "give at most one of lr_warmup_steps and lr_warmup_epochs");
            require(minLrRatio >= 0 && minLrRatio <= 1, "min_lr_ratio must be in [0, 1]");
        }

        public int microBatchSize() {
            return globalBatchSize / gradientAccumulationSteps;
        }

        public double baseLr() {
            return scaleLr ? CosineSchedule.scaledLr(lr, globalBatchSize) : lr;
        }

        public AdamW.Config adamW() {
            return new AdamW.Config(beta1, beta2, 1e-8, optimizer.equals("adam") ? 0 : weightDecay);
        }
    }

    /** Decoder fine-tuning (stage 2): the encoder's mask ratio falls linearly from {@code maskStart} to 0. */
    public record Finetune(double maskStart, Long maskSteps, Long maxSteps, long discStart) {
        public Finetune {
            require(maskStart >= 0 && maskStart < 1, "finetune_mask_start must be in [0, 1)");
            require(maskSteps == null || maskSteps > 0, "finetune_mask_steps must be positive");
            require(maxSteps == null || maxSteps > 0, "finetune_max_steps must be positive");
            require(discStart >= 0, "finetune_disc_start must be non-negative");
        }
    }

    /**
     * The VMAE's training options (spec §2.3, §2.5); null in a MAETok run.
     *
     * @param objective        the loss of stage 1 (pre-training); decoder tuning uses it with mask ratio 0, KL weight 0 and
     *                         the posterior mean, as the reference's {@code --tune_decoder} run
     * @param unfreezeEncoder  decoder tuning also updates the encoder side, as the reference code does by accident (its
     *                         freezing routine is skipped when mask_ratio is 0); false freezes it, as the paper says
     * @param finetuneImageSize decoder tuning's image side (the reference: 128 px pre-training, 256 px decoder tuning), the
     *                         position tables resized to its grid; null keeps the pre-trained model's size
     */
    public record Vmae(VmaeObjective.Options objective, boolean unfreezeEncoder, Integer finetuneImageSize) {
        public Vmae {
            require(objective != null, "VMAE objective options are required");
            require(finetuneImageSize == null || finetuneImageSize > 0, "finetune_image_size must be positive");
        }
    }

    /** Whether this run trains a VMAE (or one of its baselines) rather than a MAETok. */
    public boolean isVmae() {
        return vmae != null;
    }

    /** Whether a {@code model} value names a VMAE: a VMAE preset or a tokenizer folder whose config.json is a VMAE's. */
    static boolean namesVmae(String model) {
        if (Presets.vmae(model) != null) {
            return true;
        }
        Path config = Path.of(model).resolve(Checkpoints.CONFIG);
        if (!Files.isRegularFile(config)) {
            return false;
        }
        try {
            return VmaeConfig.describes(new ObjectMapper().readTree(config.toFile()));
        } catch (IOException e) {
            return false;
        }
    }

    // ---- loading ----------------------------------------------------------------------------------------

    public static TrainConfig load(Path file) {
        JsonNode root = YamlFiles.read(file);
        try {
            return parse(root, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    /** The names of the bundled presets. */
    public static List<String> presets() {
        return List.of("cpu", "maetok-b-128", "vmae-cpu", "ae-cpu", "dae-cpu", "vae-cpu", "ae-mm-cpu", "vae-mm-cpu");
    }

    public static TrainConfig preset(String name) {
        if (!presets().contains(name)) {
            throw new IllegalArgumentException("unknown training preset '" + name + "' (" + String.join(", ", presets()) + ")");
        }
        try (InputStream in = TrainConfig.class.getResourceAsStream("presets/" + name + ".yaml")) {
            return parse(YAML.readTree(in), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("bundled preset " + name + ": " + e.getMessage(), e);
        }
    }

    /** The YAML text of a bundled preset (written into each run directory and shown by the CLI). */
    public static String presetText(String name) {
        try (InputStream in = TrainConfig.class.getResourceAsStream("presets/" + name + ".yaml")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param base folder that relative paths (models, teachers) are resolved against; null for the working directory
     */
    public static TrainConfig parse(JsonNode root, Path base) {
        require(root != null && root.isObject(), "the config is not a mapping of keys to values");
        Fields f = new Fields((ObjectNode) root, defaults());
        boolean vmaeModel = namesVmae(f.string("model"));
        for (String k : vmaeModel ? MAETOK_ONLY : VMAE_ONLY) {
            require(!f.has(k), "field '" + k + "' is a " + (vmaeModel ? "MAETok" : "VMAE") + " option, but model '" + f.string("model")
                    + "' is a " + (vmaeModel ? "VMAE" : "MAETok") + " (remove the key or change the model)");
        }
        String precision = f.string("mixed_precision");
        require(precision.equals("none"), "mixed_precision '" + precision + "' is not supported on the CPU engine (use none)");
        for (String k : new String[] {"encoder_tuning_method", "decoder_tuning_method"}) {
            require(f.string(k).equals("full"), k + " must be full (LoRA and frozen tuning are not implemented for training)");
        }
        Run run = new Run(f.string("model"), f.object("model_args"), f.longInteger("global_seed"),
                f.has("max_steps") ? f.longInteger("max_steps") : null, f.has("epochs") ? f.integer("epochs") : null,
                f.integer("log_every"), f.integer("vis_every"), f.integer("ckpt_every"), f.integer("eval_every"),
                f.integer("keep_last"), f.bool("save_best"), f.bool("ema"), f.number("ema_decay"));
        Data data = new Data(f.string("dataset"), f.has("image_size") ? f.integer("image_size") : null,
                f.integer("val_images"), f.bool("random_crop"), f.bool("random_flip"), f.integer("num_workers"));
        Losses losses = new Losses(f.choice("reconstruction_loss", "l2", "l1"), f.number("reconstruction_weight"),
                f.number("perceptual_weight"), f.has("perceptual_warmup") ? f.integer("perceptual_warmup") : null,
                path(f.optionalString("perceptual_model"), base));
        List<Target> targets = new ArrayList<>();
        for (String t : new String[] {"hog", "pixel", "dino", "clip"}) {
            if (f.bool("aux_" + t + "_decoder")) {
                targets.add(new Target(t, f.number("aux_" + t + "_weight"),
                        t.equals("dino") || t.equals("clip") ? path(f.optionalString("aux_" + t + "_model"), base) : null));
            } else {
                f.get("aux_" + t + "_weight");
                if (t.equals("dino") || t.equals("clip")) {
                    f.get("aux_" + t + "_model");
                }
            }
        }
        Aux aux = new Aux(f.number("enc_token_drop"), f.number("enc_token_drop_max"), f.bool("aux_loss_mask"),
                f.string("aux_decoder_model"), targets);
        Gan gan = new Gan(f.number("disc_weight"), f.longInteger("disc_start"), f.choice("disc_type", "patchgan", "dino"),
                f.integer("disc_dim"), f.integer("disc_num_layers"), path(f.optionalString("disc_model"), base),
                f.choice("disc_loss", "hinge", "vanilla", "non-saturating"), f.choice("gen_loss", "hinge", "non-saturating"),
                f.bool("disc_adaptive_weight"), f.optionalNumber("lecam_loss_weight"), f.bool("use_diff_aug"),
                f.number("disc_cr_loss_weight"));
        Optim optim = new Optim(f.choice("optim", "adamw", "adam"), f.number("lr"), f.bool("scale_lr"),
                f.integer("global_batch_size"), f.integer("gradient_accumulation_steps"), f.number("weight_decay"),
                f.number("beta1"), f.number("beta2"), f.number("max_grad_norm"), f.choice("lr_scheduler", "cosine", "none"),
                f.has("lr_warmup_steps") ? f.integer("lr_warmup_steps") : null,
                f.has("lr_warmup_epochs") ? f.integer("lr_warmup_epochs") : null, f.number("warmup_lr"), f.number("min_lr_ratio"));
        Finetune ft = new Finetune(f.number("finetune_mask_start"),
                f.has("finetune_mask_steps") ? f.longInteger("finetune_mask_steps") : null,
                f.has("finetune_max_steps") ? f.longInteger("finetune_max_steps") : null, f.longInteger("finetune_disc_start"));
        Vmae vmae = vmaeModel ? vmae(f, losses) : null;
        f.rejectUnknown();
        return new TrainConfig(run, data, losses, aux, gan, optim, ft, vmae);
    }

    private static Vmae vmae(Fields f, Losses losses) {
        double maskRatio = f.number("mask_ratio");
        double visibleLossRatio = f.number("visible_loss_ratio");
        boolean normPixLoss = f.bool("norm_pix_loss");
        VmaeObjective.KlForm form = f.choice("kl_form", "fixed_std", "standard").equals("standard")
                ? VmaeObjective.KlForm.STANDARD : VmaeObjective.KlForm.FIXED_STD;
        double klStd = f.number("kl_std");
        double klWeight = f.number("kl_weight");
        double inputNoiseStd = f.number("input_noise_std");
        VmaeObjective.Options o;
        try {
            o = new VmaeObjective.Options(maskRatio, visibleLossRatio, normPixLoss, form, klStd, klWeight, losses.perceptualWeight(), inputNoiseStd);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("VMAE options: " + e.getMessage());
        }
        return new Vmae(o, f.bool("vmae_unfreeze_encoder"), f.has("finetune_image_size") ? f.integer("finetune_image_size") : null);
    }

    /** The same run with a different length (the CLI's {@code --steps}). */
    public TrainConfig withSteps(long steps) {
        Run r = run;
        return new TrainConfig(new Run(r.model(), r.modelArgs(), r.globalSeed(), steps, null, r.logEvery(), r.visEvery(),
                r.ckptEvery(), r.evalEvery(), r.keepLast(), r.saveBest(), r.ema(), r.emaDecay()), data, losses, aux, gan, optim, finetune, vmae);
    }

    /** The same run on another dataset (the CLI's {@code --data}). */
    public TrainConfig withDataset(String dataset) {
        Data d = data;
        return new TrainConfig(run, new Data(dataset, d.imageSize(), d.valImages(), d.randomCrop(), d.randomFlip(), d.numWorkers()), losses, aux, gan, optim, finetune, vmae);
    }

    /**
     * The run as decoder fine-tuning sees it: its length from finetune_max_steps (when set) and the
     * adversarial start from finetune_disc_start, both counted from the start of stage 2.
     */
    public TrainConfig forFinetune() {
        Run r = run;
        Run run2 = finetune.maxSteps() == null ? r : new Run(r.model(), r.modelArgs(), r.globalSeed(), finetune.maxSteps(), null,
                r.logEvery(), r.visEvery(), r.ckptEvery(), r.evalEvery(), r.keepLast(), r.saveBest(), r.ema(), r.emaDecay());
        Gan g = gan;
        Gan gan2 = new Gan(g.discWeight(), finetune.discStart(), g.discType(), g.discDim(), g.discNumLayers(), g.discModel(),
                g.discLoss(), g.genLoss(), g.discAdaptiveWeight(), g.lecamLossWeight(), g.useDiffAug(), g.discCrLossWeight());
        return new TrainConfig(run2, data, losses, aux, gan2, optim, finetune, vmae);
    }

    /** The number of optimiser steps, from max_steps or from epochs over a training split of {@code trainImages}. */
    public long totalSteps(int trainImages) {
        if (run.maxSteps() != null) {
            return run.maxSteps();
        }
        return (long) run.epochs() * Math.max(1, trainImages / optim.globalBatchSize());
    }

    public long warmupSteps(int trainImages) {
        if (optim.lrWarmupSteps() != null) {
            return optim.lrWarmupSteps();
        }
        if (optim.lrWarmupEpochs() != null) {
            return (long) optim.lrWarmupEpochs() * Math.max(1, trainImages / optim.globalBatchSize());
        }
        return 0;
    }

    private static Path path(String s, Path base) {
        if (s == null) {
            return null;
        }
        Path p = Path.of(s);
        return p.isAbsolute() || base == null ? p : base.resolve(p);
    }

    private static ObjectNode defaults() {
        try (InputStream in = TrainConfig.class.getResourceAsStream("train-defaults.yaml")) {
            return (ObjectNode) YAML.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
