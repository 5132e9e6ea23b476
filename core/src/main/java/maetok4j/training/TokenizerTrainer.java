package maetok4j.training;

import maetok4j.tensor.OwnedArrays;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
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
import java.util.Iterator;
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
    private final Dataset dataset;
    private final DataLoader loader;
    private final NDArray valImages; // [V, 3, S, S]
    private final long totalSteps;
    private final CosineSchedule schedule;
    private final AdamW optimizer;
    private final Ema ema;
    private final Adversary adversary;
    private final GeneratorObjective objective;
    private final RunCheckpoints checkpoints;
    private final TokenMasking masking;
    private long step;
    private final long resumedFrom;
    private double bestPsnr = Double.NEGATIVE_INFINITY;
    private final double[] pcaBaseline; // [PSNR, SSIM] or null

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
            int size = model.imageSize();
            dataset = Datasets.open(config.data().dataset(), true, false, 0, null);
            int val = config.data().valImages();
            if (val >= dataset.size()) {
                throw new IllegalArgumentException("val_images (" + val + ") must be smaller than the dataset (" + dataset.size() + " images)");
            }
            int[][] split = DataLoader.split(dataset.size(), (double) val / dataset.size(), config.run().globalSeed());
            int trainImages = split[0].length;
            ImageTransform transform = config.data().randomCrop() ? ImageTransform.train(size) : ImageTransform.eval(size);
            loader = new DataLoader(dataset, split[0], transform, config.optim().microBatchSize(), true, true,
                    config.run().globalSeed(), config.data().numWorkers(), 4);
            valImages = ImageTensors.load(dataset, split[1], size, manager);
            totalSteps = config.totalSteps(trainImages);
            double base = config.optim().baseLr();
            schedule = config.optim().lrScheduler().equals("cosine")
                    ? new CosineSchedule(base, base * config.optim().minLrRatio(), config.optim().warmupLr(),
                            config.warmupSteps(trainImages), totalSteps)
                    : new CosineSchedule(base, base, base, 0, totalSteps);
            optimizer = new AdamW(config.optim().adamW(), manager);
            ema = config.run().ema() ? new Ema(model, manager) : null;
            adversary = config.gan().enabled() ? new Adversary(config, config.run().globalSeed(), manager) : null;
            objective = new GeneratorObjective(config, stage, model, adversary);
            masking = new TokenMasking(modelConfig.encTokenDrop(), modelConfig.encTokenDropMax());
            if (latest != null) {
                RunCheckpoints.State s = checkpoints.restore(latest, optimizer, ema, adversary);
                step = s.step();
                bestPsnr = s.bestPsnr();
            }
            resumedFrom = step;
            pcaBaseline = pcaBaseline(runDir, dataset, split[0], size, model.config.numLatentTokens() * model.config.latentChannels(),
                    config.run().globalSeed(), valImages, manager, listener);
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

    /**
     * The linear baseline the tokenizer must beat: PCA fitted on the training split (center crops), keeping as
     * many components as the tokenizer has latent floats, scored on the same held-out images in the same
     * protocol. Computed once per run ({@code pca_baseline.json}); skipped when
     * {@link maetok4j.metrics.PcaCodec#unfittable} says so. Shared with {@link VmaeTrainer}.
     *
     * @param k          latent floats per image, the number of components
     * @param valImages  [V, 3, S, S] the held-out images
     */
    static double[] pcaBaseline(Path runDir, Dataset data, int[] trainRows, int size, int k, long seed, NDArray valImages,
            NDManager manager, Listener listener) {
        Path cache = runDir.resolve("pca_baseline.json");
        try {
            if (Files.exists(cache)) {
                com.fasterxml.jackson.databind.JsonNode n = JSON.readTree(cache.toFile());
                if (n.path("components").asInt() == k) {
                    return new double[] {n.path("val_psnr").asDouble(), n.path("val_ssim").asDouble()};
                }
            }
        } catch (java.io.IOException e) {
            // recompute below
        }
        if (maetok4j.metrics.PcaCodec.unfittable(3, size, k, trainRows.length) != null) {
            return null;
        }
        listener.note("fitting the PCA baseline (" + k + " components) on " + trainRows.length + " training images");
        try (NDManager scope = manager.newSubManager()) {
            maetok4j.metrics.PcaCodec codec = maetok4j.metrics.PcaCodec.fit(data, trainRows, size, k, seed, scope);
            ReconstructionMetrics m = new ReconstructionMetrics();
            m.add(valImages, codec.reconstruct(valImages));
            double[] out = {m.psnr(), m.ssim()};
            ObjectNode o = JSON.createObjectNode().put("components", k).put("train_images", trainRows.length)
                    .put("val_images", valImages.getShape().get(0)).put("val_psnr", out[0]).put("val_ssim", out[1]);
            maetok4j.tensor.AtomicFiles.writeString(cache, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
            return out;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- the loop ---------------------------------------------------------------------------------------

    public Summary run() {
        return run(totalSteps);
    }

    /**
     * Trains until {@code stopAt} (at most the run's length), saving a checkpoint there; a later trainer with
     * {@code resume} continues the same trajectory. The tokenizer is exported when the run is complete.
     */
    public Summary run(long stopAt) {
        long start = System.nanoTime();
        MetricsLog log = MetricsLog.open(runDir.resolve("metrics.jsonl"), step);
        LogWindow window = new LogWindow("img_per_s");
        Map<String, Double> lastLogged = Map.of();
        Double lastPsnr = null;
        Double lastSsim = null;
        int accum = config.optim().gradientAccumulationSteps();
        int perEpoch = loader.batchesPerEpoch();
        long microIndex = step * accum;
        int epoch = (int) (microIndex / perEpoch);
        Iterator<DataLoader.Batch> batches = loader.epoch(epoch, (int) (microIndex % perEpoch));
        listener.begin(step, totalSteps);
        try (log) {
            while (step < Math.min(stopAt, totalSteps)) {
                List<DataLoader.Batch> micro = new ArrayList<>();
                for (int k = 0; k < accum; k++) {
                    if (!batches.hasNext()) {
                        batches = loader.epoch(++epoch, 0);
                    }
                    micro.add(batches.next());
                }
                Map<String, Double> logs = trainStep(micro);
                step++;
                window.add(logs, config.optim().globalBatchSize());
                boolean last = step == totalSteps;
                boolean stopping = step == stopAt;
                boolean evalNow = step % config.run().evalEvery() == 0 || last;
                if (step % config.run().logEvery() == 0 || evalNow) {
                    Map<String, Double> row = window.row();
                    if (evalNow) {
                        double[] metrics = evaluate();
                        lastPsnr = metrics[0];
                        lastSsim = metrics[1];
                        row.put("val_psnr", metrics[0]);
                        row.put("val_ssim", metrics[1]);
                    }
                    log.append(step, row);
                    lastLogged = row;
                    listener.step(step, row.get("loss"), row.get("img_per_s"));
                    if (evalNow) {
                        writeFigures();
                    }
                    window.restartClock();
                } else {
                    listener.step(step, Double.NaN, Double.NaN);
                }
                if (step % config.run().ckptEvery() == 0 || last || stopping) {
                    boolean best = lastPsnr != null && evalNow && lastPsnr > bestPsnr;
                    if (best) {
                        bestPsnr = lastPsnr;
                    }
                    checkpoints.save(step, model, optimizer, ema, adversary, bestPsnr, best && config.run().saveBest());
                }
            }
        }
        Path exported = step == totalSteps ? exportTokenizer() : null;
        double seconds = (System.nanoTime() - start) / 1e9;
        long done = step - resumedFrom;
        Summary s = new Summary(stage, step, resumedFrom, seconds, done * (double) config.optim().globalBatchSize() / seconds,
                lastLogged, lastPsnr, lastSsim, Double.isFinite(bestPsnr) ? bestPsnr : null, pcaBaseline, exported, window.peakRssBytes());
        writeSummary(runDir, s);
        return s;
    }

    /** One optimisation step over the micro-batches (gradient accumulation), then the discriminator's step. */
    private Map<String, Double> trainStep(List<DataLoader.Batch> micro) {
        SplittableRandom rng = new SplittableRandom(TrainStep.rngSeed(config.run().globalSeed(), step));
        double lr = schedule.lr(step);
        double ratio = maskRatio(rng);
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
            checkFinite(logs);
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
                checkFinite(logs);
            }
        }
        logs.put("lr", lr);
        logs.put("mask_ratio", ratio);
        return logs;
    }

    private void checkFinite(Map<String, Double> logs) {
        checkFinite(step + 1, logs);
    }

    /** Stops on the first NaN or infinite term, naming the step and the term. */
    static void checkFinite(long step, Map<String, Double> logs) {
        for (Map.Entry<String, Double> e : logs.entrySet()) {
            if (!Double.isFinite(e.getValue())) {
                throw new DivergedException("step " + step + ": loss term '" + e.getKey() + "' is " + e.getValue()
                        + "; the last good checkpoint is kept");
            }
        }
    }

    /** Native arrays alive under this trainer (model, optimiser, EMA, discriminator, data): the leak guard's measure. */
    int nativeArrays() {
        return ((ai.djl.ndarray.BaseNDManager) manager).getManagedArrays().size();
    }

    /** Stage 1 draws the truncated-normal ratio; stage 2 lets it fall linearly from finetune_mask_start to 0. */
    private double maskRatio(SplittableRandom rng) {
        if (stage == Stage.DECODER_FINETUNE) {
            long over = config.finetune().maskSteps() != null ? config.finetune().maskSteps() : totalSteps;
            return TokenMasking.linearDecay(config.finetune().maskStart(), step, over);
        }
        return masking.high() > 0 ? masking.sampleRatio(rng) : 0;
    }

    private NDArray mask(int batch, double ratio, SplittableRandom rng, NDManager scope) {
        int n = model.config.encoderGrid() * model.config.encoderGrid();
        return OwnedArrays.of(scope, TokenMasking.sampleMask(batch, n, ratio, rng), new Shape(batch, n)); // [B, N]
    }

    // ---- evaluation, figures, export --------------------------------------------------------------------

    /**
     * Held-out PSNR and SSIM of the (EMA) tokenizer on the validation images, in the reference evaluation's
     * protocol ({@link ReconstructionMetrics}).
     */
    private double[] evaluate() {
        double[] out = new double[2];
        withEvalWeights(() -> {
            ReconstructionMetrics metrics = new ReconstructionMetrics();
            try (NDManager scope = manager.newSubManager()) {
                long n = valImages.getShape().get(0);
                int bs = config.optim().microBatchSize();
                for (long i = 0; i < n; i += bs) {
                    NDArray x = valImages.get(i + ":" + Math.min(n, i + bs));
                    x.attach(scope);
                    NDArray y = model.reconstruct(x);
                    y.attach(scope);
                    metrics.add(x, y);
                }
            }
            out[0] = metrics.psnr();
            out[1] = metrics.ssim();
        });
        return out;
    }

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

    private void writeFigures() {
        List<Map<String, Double>> rows = MetricsLog.read(runDir.resolve("metrics.jsonl"));
        Path plots = runDir.resolve("plots");
        LossCurves.write(plots.resolve("loss.png"), "training losses", rows,
                k -> k.equals("loss") || k.startsWith("rec_") || k.startsWith("aux_") || k.startsWith("perceptual")
                        || k.startsWith("gen_") || k.startsWith("disc_loss"), true);
        if (pcaBaseline != null) {
            rows.forEach(r -> {
                if (r.containsKey("val_psnr")) {
                    r.put("pca_val_psnr", pcaBaseline[0]);
                }
            });
        }
        LossCurves.write(plots.resolve("val_psnr.png"), "held-out PSNR (dB)", rows, k -> k.equals("val_psnr") || k.equals("pca_val_psnr"), false);
        LossCurves.write(plots.resolve("val_ssim.png"), "held-out SSIM", rows, k -> k.equals("val_ssim"), false);
        withEvalWeights(() -> {
            try (NDManager scope = manager.newSubManager()) {
                long n = Math.min(8, valImages.getShape().get(0));
                NDArray x = valImages.get("0:" + n);
                x.attach(scope);
                NDArray y = model.reconstruct(x);
                y.attach(scope);
                ImageGrid.writePng(ImageGrid.tile(List.of(x, y), Math.max(1, 128 / model.imageSize())),
                        plots.resolve("reconstructions.png"));
            }
        });
    }

    /** Writes the EMA (or trained) weights as a plain tokenizer folder, without the auxiliary decoders in stage 2. */
    private Path exportTokenizer() {
        Path out = runDir.resolve("tokenizer");
        Runnable save = () -> model.save(out);
        if (ema != null) {
            ema.withAveraged(model, save);
        } else {
            save.run();
        }
        return out;
    }

    /** The run's {@code summary.json}. Shared with {@link VmaeTrainer}. */
    static void writeSummary(Path runDir, Summary s) {
        try {
            maetok4j.tensor.AtomicFiles.writeString(runDir.resolve("summary.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s.toJson()) + "\n");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public MAETok model() {
        return model;
    }

    public long step() {
        return step;
    }

    public long totalSteps() {
        return totalSteps;
    }

    @Override
    public void close() {
        if (loader != null) {
            loader.close();
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
