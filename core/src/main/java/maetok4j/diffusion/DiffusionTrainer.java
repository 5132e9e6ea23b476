package maetok4j.diffusion;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.Permutations;
import maetok4j.latents.LatentCache;
import maetok4j.latents.LatentNormalization;
import maetok4j.latents.LatentSet;
import maetok4j.latents.LatentStatistics;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.OwnedArrays;
import maetok4j.training.AdamW;
import maetok4j.training.CosineSchedule;
import maetok4j.training.Ema;
import maetok4j.training.LogWindow;
import maetok4j.training.LossCurves;
import maetok4j.training.MetricsLog;
import maetok4j.training.RunCheckpoints;
import maetok4j.training.TokenizerTrainer.DivergedException;
import maetok4j.training.TokenizerTrainer.Listener;
import maetok4j.training.TrainStep;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static maetok4j.config.Fields.require;

/**
 * Trains SiT on cached latents (reference {@code train/train_sit.py} with {@code losses/sit_loss.py}): latents
 * normalised by the store's statistics, labels dropped to the null class with {@code class_dropout_prob} (the
 * reference does this inside its label embedder in training mode; here the step's generator draws it), the
 * {@link Transport} objective, AdamW with global-norm clipping, and an EMA of the weights that is exported as a
 * {@link DiffusionCheckpoint} folder ({@code RUN_DIR/model}).
 *
 * <p>The same machinery as the tokenizer trainers: {@link TrainStep} runs each step in its own native scope,
 * {@link RunCheckpoints} saves atomically and restores the optimiser and EMA, {@link MetricsLog} and {@link LossCurves}
 * record the run. Every random choice comes from {@code global_seed}: the weights' initialisation, the held-out split,
 * each epoch's order from (seed, epoch), and each step's label dropout, times and noise from (seed, step); so a
 * resumed run continues the uninterrupted one's trajectory.
 *
 * <p>{@code val_loss}, the number that compares runs on different tokenizers, is the objective of the current
 * (not averaged) weights on held-out latents with fixed labels, times and noise drawn once from the seed:
 * {@code val_repeats} (t, ε) draws per held-out latent, the same at every evaluation. {@code val_loss_ema} is the same
 * for the EMA weights, and {@code val_loss_null} the current weights with every label replaced by the null label: its
 * gap to {@code val_loss} is what the labels tell the model.
 */
public final class DiffusionTrainer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The generator streams that are not a training step's (whose seeds come from steps 0, 1, ...). */
    private static final long VALIDATION_STREAM = -1;
    private static final long EPOCH_STREAM_BASE = -2;

    /** What a finished (or stopped) run reports: {@code summary.json}. */
    public record Summary(long steps, long resumedFrom, double seconds, int batchSize, Double loss, Double valLoss, Double valLossEma,
            Double valLossNull, Path model, long parameters, long peakRssBytes, String latents) {

        /** Steps per second of this invocation (a resumed run counts from its checkpoint). */
        public double stepsPerSecond() {
            return (steps - resumedFrom) / seconds;
        }

        public double samplesPerSecond() {
            return stepsPerSecond() * batchSize;
        }

        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("steps", steps).put("resumed_from", resumedFrom).put("seconds", seconds).put("steps_per_second", stepsPerSecond())
                    .put("samples_per_second", samplesPerSecond()).put("global_batch_size", batchSize);
            putIfKnown(o, "loss", loss);
            putIfKnown(o, "val_loss", valLoss);
            putIfKnown(o, "val_loss_ema", valLossEma);
            putIfKnown(o, "val_loss_null", valLossNull);
            o.put("model", model == null ? null : model.toString()).put("parameters", parameters).put("peak_rss_bytes", peakRssBytes)
                    .put("latents", latents);
            return o;
        }

        private static void putIfKnown(ObjectNode o, String key, Double v) {
            if (v != null) {
                o.put(key, v);
            }
        }
    }

    /** The held-out draws, fixed for the run: inputs x_t, times, velocity targets, labels and the null labels. */
    private record Validation(NDArray input, NDArray t, NDArray target, NDArray labels, NDArray nullLabels) {}

    private final DiffusionTrainConfig config;
    private final Path runDir;
    private final Listener listener;
    private final NDManager manager;
    private final RunCheckpoints checkpoints;
    private SiT model;
    private NDArray trainLatents; // [N, ...latent], normalised
    private long[] trainLabels;
    private int numClasses;
    private DiffusionCheckpoint.Latents latentsRecord;
    private Validation validation; // null without held-out latents
    private long totalSteps;
    private CosineSchedule schedule;
    private AdamW optimizer;
    private Ema ema;
    private long step;
    private long resumedFrom;
    private int orderEpoch = -1;
    private int[] order;

    /**
     * @param config the run; its {@code latents} must be set
     * @param resume continue from the newest checkpoint in {@code runDir} (from step 0 when there is none)
     */
    public DiffusionTrainer(DiffusionTrainConfig config, Path runDir, boolean resume, Listener listener) {
        if (config.data().latents() == null) {
            throw new IllegalArgumentException("no latents to train on: give --latents DIR (a latent store or a .safetensors file) or 'latents' in the config");
        }
        this.runDir = runDir;
        this.listener = listener;
        this.checkpoints = new RunCheckpoints(runDir.resolve("checkpoints"), config.run().keepLast());
        RunCheckpoints.Saved latest = checkpoints.start(resume, listener::note);
        manager = NDManager.newBaseManager();
        boolean ok = false;
        try {
            this.config = build(config, latest);
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    /** Loads the latents, builds or restores the model and the training state; returns the config with its latent scaling decided. */
    private DiffusionTrainConfig build(DiffusionTrainConfig requested, RunCheckpoints.Saved latest) {
        long seed = requested.run().globalSeed();
        Path source = requested.data().latents();
        DiffusionTrainConfig resolved;
        SiTConfig sitConfig;
        LatentNormalization normalization;
        try (LatentSet set = LatentSet.load(source, manager)) {
            Geometry g = Geometry.of(set, requested.model().patchSize());
            DiffusionTrainConfig.LatentNorm norm = g.decide(requested.objective().latentNorm());
            resolved = requested.withLatentNorm(norm).withLatents(source.toAbsolutePath().normalize());
            checkSavedConfig(resolved, latest != null);
            normalization = normalization(norm, source, set);
            if (!set.labelled()) {
                listener.note(source + ": no labels; training an unconditional model (one class)");
            }
            numClasses = Math.max(1, set.classCount());
            long[] labels = set.labelled() ? set.labels() : new long[set.size()];
            int[][] split = split(set, requested.data().valLatents(), seed);
            require(split[0].length >= requested.optim().globalBatchSize(), "global_batch_size " + requested.optim().globalBatchSize()
                    + " is larger than the " + split[0].length + " training latents of " + source);
            trainLatents = normalizedRows(set, split[0], normalization);
            trainLabels = pick(labels, split[0]);
            if (split[1].length > 0) {
                validation = validation(normalizedRows(set, split[1], normalization), pick(labels, split[1]), requested);
            }
            sitConfig = requested.model().sit(g.inputSize(), g.channels(), numClasses, g.vae1d());
            latentsRecord = new DiffusionCheckpoint.Latents(normalization, set.classes(), tokenizerOf(source));
        }
        if (latest != null) {
            DiffusionCheckpoint.Latents saved = DiffusionCheckpoint.readLatents(latest.folder());
            require(saved != null && saved.normalization().equals(normalization), latest.folder() + ": its latent normalisation ("
                    + (saved == null ? "none" : saved.normalization()) + ") is not this run's (" + normalization + "): were the latents re-cached?");
            model = SiT.load(latest.folder(), manager);
            require(model.config().equals(sitConfig), latest.folder() + ": the checkpoint's model " + model.config() + " is not this run's " + sitConfig);
        } else {
            model = SiT.create(sitConfig, manager, seed);
        }
        totalSteps = resolved.run().maxSteps();
        schedule = resolved.optim().schedule(totalSteps);
        optimizer = new AdamW(resolved.optim().adamW(), manager);
        ema = new Ema(model, manager);
        if (latest != null) {
            step = checkpoints.restore(latest, optimizer, ema).step();
        }
        resumedFrom = step;
        model.train(true);
        TrainStep.enableGradients(model);
        try {
            Files.createDirectories(runDir);
        } catch (IOException e) {
            throw new IllegalArgumentException(runDir + ": cannot create the run directory: " + e.getMessage());
        }
        AtomicFiles.writeString(runDir.resolve("config.yaml"), resolved.toYaml());
        return resolved;
    }

    /** How SiT sees a latent: tokens [L, C] (channels last) or a square grid [C, s, s] (channels first). */
    record Geometry(boolean vae1d, int inputSize, int channels) {

        /** {@code auto} scaling: scalar for tokens (MAETok's vq_mean/vq_std), per channel for grids (LDMAE's latent statistics). */
        DiffusionTrainConfig.LatentNorm decide(DiffusionTrainConfig.LatentNorm requested) {
            if (requested != DiffusionTrainConfig.LatentNorm.AUTO) {
                return requested;
            }
            return vae1d ? DiffusionTrainConfig.LatentNorm.SCALAR : DiffusionTrainConfig.LatentNorm.CHANNEL;
        }

        static Geometry of(LatentSet set, int patchSize) {
            long[] s = set.latentShape();
            int axis = set.channelAxis();
            if (s.length == 2 && axis == 1) {
                return new Geometry(true, Math.toIntExact(s[0]), Math.toIntExact(s[1]));
            }
            if (s.length == 3 && axis == 0) {
                require(s[1] == s[2], set.source() + ": spatial latents " + Arrays.toString(s) + " must be square for SiT");
                require(s[1] % patchSize == 0, set.source() + ": the latent side " + s[1] + " is not a multiple of patch_size " + patchSize);
                return new Geometry(false, Math.toIntExact(s[1]), Math.toIntExact(s[0]));
            }
            throw new IllegalArgumentException(set.source() + ": latents " + Arrays.toString(s) + " with channel axis " + axis
                    + ": SiT trains on token latents [L, C] (channels last) or spatial latents [C, h, w] (channels first)");
        }
    }

    /** The scaling the run asked for, from the store's {@code stats.json} (or, for a tensor file, statistics of all its latents). */
    private static LatentNormalization normalization(DiffusionTrainConfig.LatentNorm norm, Path source, LatentSet set) {
        long[] shape = set.latentShape();
        if (norm == DiffusionTrainConfig.LatentNorm.NONE) {
            return LatentNormalization.identity(shape, set.channelAxis());
        }
        LatentStatistics.Summary stats;
        if (Files.isDirectory(source)) {
            stats = LatentCache.statsOf(source);
            require(Arrays.equals(stats.latentShape(), shape), source.resolve(LatentCache.STATS) + ": statistics of latents "
                    + Arrays.toString(stats.latentShape()) + ", but the store holds " + Arrays.toString(shape));
        } else {
            LatentStatistics s = new LatentStatistics(shape, set.channelAxis());
            s.add(set.latents());
            stats = s.summary();
        }
        return LatentNormalization.of(stats, set.channelAxis(), norm == DiffusionTrainConfig.LatentNorm.CHANNEL);
    }

    /** Train and held-out rows: whole image-and-mirror groups, seeded; everything trains when nothing is held out. */
    private static int[][] split(LatentSet set, int valLatents, long seed) {
        if (valLatents == 0) {
            int[] all = new int[set.size()];
            Arrays.setAll(all, i -> i);
            return new int[][] {all, new int[0]};
        }
        require(valLatents < set.size(), "val_latents (" + valLatents + ") must be smaller than the " + set.size() + " latents of " + set.source());
        return set.split((double) valLatents / set.size(), seed);
    }

    /** Rows of the set, normalised, in the trainer's manager: [n, ...latent]. */
    private NDArray normalizedRows(LatentSet set, int[] rows, LatentNormalization normalization) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = normalization.normalize(LatentSet.rows(set.latents(), rows, scope));
            x.attach(manager);
            return x;
        }
    }

    private static long[] pick(long[] values, int[] rows) {
        long[] out = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = values[rows[i]];
        }
        return out;
    }

    /** The fixed held-out draws: each latent {@code val_repeats} times, times and noise from the seed's validation stream. */
    private Validation validation(NDArray x, long[] labels, DiffusionTrainConfig c) {
        int repeats = c.data().valRepeats();
        try (NDManager scope = manager.newSubManager()) {
            x.attach(scope);
            long n = x.getShape().get(0);
            long[] shape = x.getShape().getShape().clone();
            shape[0] = n * repeats;
            NDArray repeated = x.expandDims(0).repeat(0, repeats).reshape(new Shape(shape)); // [R·V, ...latent], repeat-major
            long[] y = new long[(int) (n * repeats)];
            for (int i = 0; i < y.length; i++) {
                y[i] = labels[(int) (i % n)];
            }
            SplittableRandom rng = new SplittableRandom(TrainStep.rngSeed(c.run().globalSeed(), VALIDATION_STREAM));
            Transport.Draw d = Transport.draw(repeated, c.objective().pathType(), c.objective().weighting(), rng, scope);
            long[] nulls = new long[y.length];
            Arrays.fill(nulls, numClasses);
            Validation v = new Validation(d.input(), d.t(), d.target(), OwnedArrays.of(scope, y), OwnedArrays.of(scope, nulls));
            for (NDArray a : List.of(v.input(), v.t(), v.target(), v.labels(), v.nullLabels())) {
                a.attach(manager);
            }
            return v;
        }
    }

    /** The tokenizer the store's {@code cache.json} says made the latents, or null when unknown. */
    private static String tokenizerOf(Path source) {
        Path manifest = source.resolve(LatentCache.MANIFEST);
        if (!Files.isDirectory(source) || !Files.isRegularFile(manifest)) {
            return null;
        }
        try {
            JsonNode m = JSON.readTree(manifest.toFile()).path("model");
            return m.isTextual() ? m.asText() : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** A resumed run must continue the saved run's trajectory: only its length and reporting intervals may change. */
    private void checkSavedConfig(DiffusionTrainConfig resolved, boolean resuming) {
        Path saved = runDir.resolve("config.yaml");
        if (!resuming || !Files.isRegularFile(saved)) {
            return;
        }
        DiffusionTrainConfig before = DiffusionTrainConfig.load(saved);
        List<String> changed = before.trajectoryDifferences(resolved);
        require(changed.isEmpty(), "cannot resume " + runDir + " with a different config: " + String.join(", ", changed)
                + " changed (only " + String.join(", ", DiffusionTrainConfig.RESUMABLE_CHANGES.stream().sorted().toList()) + " may)");
    }

    // ---- the loop ---------------------------------------------------------------------------------------

    public Summary run() {
        return run(totalSteps);
    }

    /**
     * Trains until {@code stopAt} (at most the run's length), saving a checkpoint there; a later trainer with
     * {@code resume} continues the same trajectory. The EMA model is exported when the run is complete.
     */
    public Summary run(long stopAt) {
        long start = System.nanoTime();
        int batch = config.optim().globalBatchSize();
        LogWindow window = new LogWindow("samples_per_s");
        Map<String, Double> lastLogged = Map.of();
        Double[] lastVal = new Double[3];
        listener.begin(step, totalSteps);
        try (MetricsLog log = MetricsLog.open(runDir.resolve("metrics.jsonl"), step)) {
            while (step < Math.min(stopAt, totalSteps)) {
                Map<String, Double> terms = trainStep();
                step++;
                window.add(terms, batch);
                boolean last = step == totalSteps;
                boolean evalNow = validation != null && (step % config.run().evalEvery() == 0 || last);
                if (step % config.run().logEvery() == 0 || evalNow || last) {
                    Map<String, Double> row = window.row();
                    if (evalNow) {
                        double[] v = evaluate();
                        row.put("val_loss", v[0]);
                        row.put("val_loss_ema", v[1]);
                        if (!Double.isNaN(v[2])) {
                            row.put("val_loss_null", v[2]);
                        }
                        lastVal = new Double[] {v[0], v[1], Double.isNaN(v[2]) ? null : v[2]};
                    }
                    log.append(step, row);
                    lastLogged = row;
                    listener.step(step, row.get("loss"), row.get("samples_per_s"));
                    if (step % config.run().plotEvery() == 0 || last) {
                        writePlots();
                    }
                    window.restartClock();
                } else {
                    listener.step(step, Double.NaN, Double.NaN);
                }
                if (step % config.run().ckptEvery() == 0 || last || step == stopAt) {
                    checkpoints.save(step, folder -> DiffusionCheckpoint.save(folder, model, latentsRecord), optimizer, ema);
                    window.restartClock();
                }
            }
        }
        Path exported = step == totalSteps ? export() : null;
        double seconds = (System.nanoTime() - start) / 1e9;
        Summary s = new Summary(step, resumedFrom, seconds, batch, lastLogged.get("loss"), lastVal[0], lastVal[1], lastVal[2], exported,
                model.parameterCount(), window.peakRssBytes(), config.data().latents().toString());
        try {
            AtomicFiles.writeString(runDir.resolve("summary.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s.toJson()) + "\n");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return s;
    }

    /** One optimisation step in its own native scope, then the EMA; the step's terms for the log. */
    private Map<String, Double> trainStep() {
        SplittableRandom rng = new SplittableRandom(TrainStep.rngSeed(config.run().globalSeed(), step));
        double lr = schedule.lr(step);
        int[] rows = batchRows(step);
        long[] y = pick(trainLabels, rows);
        double dropout = config.model().classDropoutProb();
        for (int i = 0; i < y.length; i++) {
            if (dropout > 0 && rng.nextDouble() < dropout) {
                y[i] = numClasses; // the null label: the unconditional branch classifier-free guidance needs
            }
        }
        TrainStep.Result r;
        try {
            r = TrainStep.run(model, manager, scope -> {
                NDArray x0 = LatentSet.rows(trainLatents, rows, scope); // [B, ...latent]
                Transport.Draw d = Transport.draw(x0, config.objective().pathType(), config.objective().weighting(), rng, scope);
                NDArray v = model.forward(d.input(), d.t(), OwnedArrays.of(scope, y)); // [B, ...latent]
                return Transport.loss(v, d.target()).mean();
            }, optimizer, lr, config.optim().maxGradNorm());
        } catch (TrainStep.NonFiniteException e) {
            throw new DivergedException("step " + (step + 1) + ": " + e.getMessage() + "; the last good checkpoint is kept");
        }
        ema.update(model, config.optim().emaDecay());
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put("loss", r.loss());
        terms.put("grad_norm", r.gradNorm());
        terms.put("lr", lr);
        return terms;
    }

    /** The training rows of step s: batch (s mod batches per epoch) of its epoch's seeded order; the last partial batch is dropped, as the reference's loader does. */
    private int[] batchRows(long s) {
        int n = trainLabels.length;
        int batch = config.optim().globalBatchSize();
        int perEpoch = n / batch;
        int epoch = Math.toIntExact(s / perEpoch);
        if (epoch != orderEpoch) {
            order = new int[n];
            Arrays.setAll(order, i -> i);
            Permutations.shuffle(order, new SplittableRandom(TrainStep.rngSeed(config.run().globalSeed(), EPOCH_STREAM_BASE - epoch)));
            orderEpoch = epoch;
        }
        int first = (int) (s % perEpoch) * batch;
        return Arrays.copyOfRange(order, first, first + batch);
    }

    // ---- evaluation, plots, export ----------------------------------------------------------------------

    /** {val_loss, val_loss_ema, val_loss_null (NaN without a null label)} on the fixed held-out draws. */
    private double[] evaluate() {
        double current = heldOutLoss(validation.labels());
        double nullLabel = model.config().labelRows() > numClasses ? heldOutLoss(validation.nullLabels()) : Double.NaN;
        double[] averaged = new double[1];
        ema.withAveraged(model, () -> averaged[0] = heldOutLoss(validation.labels()));
        return new double[] {current, averaged[0], nullLabel};
    }

    /** The mean per-sample objective over the held-out draws with the given labels (no gradient is recorded outside a step). */
    private double heldOutLoss(NDArray labels) {
        long n = validation.input().getShape().get(0);
        int batch = config.optim().globalBatchSize();
        double sum = 0;
        try (NDManager scope = manager.newSubManager()) {
            for (long i = 0; i < n; i += batch) {
                String range = i + ":" + Math.min(n, i + batch);
                NDArray x = validation.input().get(range); // [b, ...latent]
                NDArray t = validation.t().get(range);
                NDArray y = labels.get(range);
                NDArray target = validation.target().get(range);
                for (NDArray a : List.of(x, t, y, target)) {
                    a.attach(scope);
                }
                sum += Transport.loss(model.forward(x, t, y), target).sum().getFloat();
            }
        }
        return sum / n;
    }

    private void writePlots() {
        List<Map<String, Double>> rows = MetricsLog.read(runDir.resolve("metrics.jsonl"));
        LossCurves.write(runDir.resolve("plots").resolve("loss.png"), "diffusion loss (velocity MSE)", rows,
                k -> k.equals("loss") || k.startsWith("val_loss"), true);
    }

    /** The EMA weights as a diffusion model folder, {@code RUN_DIR/model}. */
    private Path export() {
        Path out = runDir.resolve("model");
        ema.withAveraged(model, () -> DiffusionCheckpoint.save(out, model, latentsRecord));
        return out;
    }

    /** Native arrays alive under this trainer (model, optimiser, EMA, latents, held-out draws): the leak guard's measure. */
    int nativeArrays() {
        return ((BaseNDManager) manager).getManagedArrays().size();
    }

    public SiT model() {
        return model;
    }

    /** The run's config, with {@code latent_norm} decided for the data and the latents' absolute path. */
    public DiffusionTrainConfig config() {
        return config;
    }

    public long step() {
        return step;
    }

    public long totalSteps() {
        return totalSteps;
    }

    @Override
    public void close() {
        if (model != null) {
            model.close();
        }
        manager.close();
    }
}
