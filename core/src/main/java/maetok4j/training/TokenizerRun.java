package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.data.ImageGrid;
import maetok4j.data.ImageTensors;
import maetok4j.data.ImageTransform;
import maetok4j.metrics.PcaCodec;
import maetok4j.metrics.ReconstructionMetrics;
import maetok4j.tensor.AtomicFiles;
import maetok4j.training.TokenizerTrainer.DivergedException;
import maetok4j.training.TokenizerTrainer.Listener;
import maetok4j.training.TokenizerTrainer.Stage;
import maetok4j.training.TokenizerTrainer.Summary;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * What the two tokenizer trainers share ({@link TokenizerTrainer} for MAETok, {@link VmaeTrainer} for VMAE and the
 * baselines): the data split and loader, the held-out images, the learning-rate schedule, the PCA baseline, and the
 * loop around the optimiser steps (the log window, held-out PSNR and SSIM, figures, checkpoints, the exported
 * tokenizer, the summary). A trainer brings what is its own, the step, the model and its checkpoint, as a
 * {@link Model}; everything a run directory holds is therefore written the same way for every tokenizer.
 */
final class TokenizerRun implements AutoCloseable {

    /** The trainer's side of the loop. */
    interface Model {
        /** One optimiser step over the micro-batches; {@code step} counts the steps before it and seeds its draws. */
        Map<String, Double> step(long step, List<DataLoader.Batch> micro);

        /** The tokenizer's reconstruction, [b, 3, S, S] → [b, 3, S, S]; called inside {@link #withEvalWeights}. */
        NDArray reconstruct(NDArray images);

        /** Runs {@code body} with the weights (the EMA's when kept) and mode of evaluation and export, then restores training. */
        void withEvalWeights(Runnable body);

        /** A checkpoint after {@code step} steps (atomic, through {@link RunCheckpoints}). */
        void saveCheckpoint(long step, double bestPsnr, boolean best);

        /** The inference tokenizer as a checkpoint folder; called inside {@link #withEvalWeights}. */
        void saveTokenizer(Path folder);

        /** Whether a logged key goes in the training-loss figure. */
        boolean isLossTerm(String key);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainConfig config;
    private final Stage stage;
    private final Path runDir;
    private final Listener listener;
    private final Dataset dataset;
    private final int[] trainRows;
    private final DataLoader loader;
    private final NDArray valImages; // [V, 3, S, S]
    private final int imageSize;
    private final long totalSteps;
    private final CosineSchedule schedule;
    private double[] pcaBaseline; // [PSNR, SSIM] or null
    private long step;
    private long resumedFrom;
    private double bestPsnr = Double.NEGATIVE_INFINITY;

    /** The config's dataset split by its seed: the loader over the training rows, the held-out images at {@code imageSize}. */
    TokenizerRun(TrainConfig config, Stage stage, Path runDir, int imageSize, Listener listener, NDManager manager) {
        this.config = config;
        this.stage = stage;
        this.runDir = runDir;
        this.listener = listener;
        this.imageSize = imageSize;
        long seed = config.run().globalSeed();
        dataset = Datasets.open(config.data().dataset(), true, false, 0, null);
        int val = config.data().valImages();
        if (val >= dataset.size()) {
            throw new IllegalArgumentException("val_images (" + val + ") must be smaller than the dataset (" + dataset.size() + " images)");
        }
        int[][] split = DataLoader.split(dataset.size(), (double) val / dataset.size(), seed);
        trainRows = split[0];
        ImageTransform transform = new ImageTransform(imageSize, config.data().randomCrop(), config.data().randomFlip());
        loader = new DataLoader(dataset, trainRows, transform, config.optim().microBatchSize(), true, true, seed,
                config.data().numWorkers(), 4);
        valImages = ImageTensors.load(dataset, split[1], imageSize, manager);
        totalSteps = config.totalSteps(trainRows.length);
        double base = config.optim().baseLr();
        schedule = config.optim().lrScheduler().equals("cosine")
                ? new CosineSchedule(base, base * config.optim().minLrRatio(), config.optim().warmupLr(),
                        config.warmupSteps(trainRows.length), totalSteps)
                : new CosineSchedule(base, base, base, 0, totalSteps);
    }

    /**
     * Where the run starts (0, or a checkpoint's step and best PSNR), and the PCA baseline for a tokenizer of
     * {@code latentFloats} floats per image.
     */
    void start(long step, double bestPsnr, int latentFloats, NDManager manager) {
        this.step = step;
        this.bestPsnr = bestPsnr;
        this.resumedFrom = step;
        this.pcaBaseline = pcaBaseline(latentFloats, manager);
    }

    long step() {
        return step;
    }

    long totalSteps() {
        return totalSteps;
    }

    double lr(long step) {
        return schedule.lr(step);
    }

    // ---- the loop ---------------------------------------------------------------------------------------

    /**
     * Trains until {@code stopAt} (at most the run's length), saving a checkpoint there; a later trainer with
     * {@code resume} continues the same trajectory. The tokenizer is exported when the run is complete.
     */
    Summary run(long stopAt, Model model) {
        long start = System.nanoTime();
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
        try (MetricsLog log = MetricsLog.open(runDir.resolve("metrics.jsonl"), step)) {
            while (step < Math.min(stopAt, totalSteps)) {
                List<DataLoader.Batch> micro = new ArrayList<>(accum);
                for (int k = 0; k < accum; k++) {
                    if (!batches.hasNext()) {
                        batches = loader.epoch(++epoch, 0);
                    }
                    micro.add(batches.next());
                }
                Map<String, Double> logs = model.step(step, micro);
                step++;
                window.add(logs, config.optim().globalBatchSize());
                boolean last = step == totalSteps;
                boolean evalNow = step % config.run().evalEvery() == 0 || last;
                if (step % config.run().logEvery() == 0 || evalNow) {
                    Map<String, Double> row = window.row();
                    if (evalNow) {
                        double[] metrics = evaluate(model);
                        lastPsnr = metrics[0];
                        lastSsim = metrics[1];
                        row.put("val_psnr", metrics[0]);
                        row.put("val_ssim", metrics[1]);
                    }
                    log.append(step, row);
                    lastLogged = row;
                    listener.step(step, row.get("loss"), row.get("img_per_s"));
                    if (evalNow) {
                        writeFigures(model);
                    }
                    window.restartClock();
                } else {
                    listener.step(step, Double.NaN, Double.NaN);
                }
                if (step % config.run().ckptEvery() == 0 || last || step == stopAt) {
                    boolean best = lastPsnr != null && evalNow && lastPsnr > bestPsnr;
                    if (best) {
                        bestPsnr = lastPsnr;
                    }
                    model.saveCheckpoint(step, bestPsnr, best && config.run().saveBest());
                }
            }
        }
        Path exported = null;
        if (step == totalSteps) {
            Path out = runDir.resolve("tokenizer");
            model.withEvalWeights(() -> model.saveTokenizer(out));
            exported = out;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long done = step - resumedFrom;
        Summary s = new Summary(stage, step, resumedFrom, seconds, done * (double) config.optim().globalBatchSize() / seconds,
                lastLogged, lastPsnr, lastSsim, Double.isFinite(bestPsnr) ? bestPsnr : null, pcaBaseline, exported, window.peakRssBytes());
        writeJson(runDir.resolve("summary.json"), s.toJson());
        return s;
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

    // ---- evaluation, figures ----------------------------------------------------------------------------

    /** Held-out PSNR and SSIM of the (EMA) tokenizer, in the reference evaluation's protocol ({@link ReconstructionMetrics}). */
    private double[] evaluate(Model model) {
        double[] out = new double[2];
        model.withEvalWeights(() -> {
            ReconstructionMetrics metrics = new ReconstructionMetrics();
            try (NDManager scope = valImages.getManager().newSubManager()) {
                long n = valImages.getShape().get(0);
                int bs = config.optim().microBatchSize();
                for (long i = 0; i < n; i += bs) {
                    NDArray x = valImages.get(i + ":" + Math.min(n, i + bs)); // [b, 3, S, S]
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

    private void writeFigures(Model model) {
        List<Map<String, Double>> rows = MetricsLog.read(runDir.resolve("metrics.jsonl"));
        Path plots = runDir.resolve("plots");
        LossCurves.write(plots.resolve("loss.png"), "training losses", rows, model::isLossTerm, true);
        if (pcaBaseline != null) {
            rows.forEach(r -> {
                if (r.containsKey("val_psnr")) {
                    r.put("pca_val_psnr", pcaBaseline[0]);
                }
            });
        }
        LossCurves.write(plots.resolve("val_psnr.png"), "held-out PSNR (dB)", rows, k -> k.equals("val_psnr") || k.equals("pca_val_psnr"), false);
        LossCurves.write(plots.resolve("val_ssim.png"), "held-out SSIM", rows, k -> k.equals("val_ssim"), false);
        model.withEvalWeights(() -> {
            try (NDManager scope = valImages.getManager().newSubManager()) {
                long n = Math.min(8, valImages.getShape().get(0));
                NDArray x = valImages.get("0:" + n); // [n, 3, S, S]
                x.attach(scope);
                NDArray y = model.reconstruct(x);
                y.attach(scope);
                ImageGrid.writePng(ImageGrid.tile(List.of(x, y), Math.max(1, 128 / imageSize)), plots.resolve("reconstructions.png"));
            }
        });
    }

    /**
     * The linear baseline the tokenizer must beat: PCA fitted on the training split (center crops), keeping as
     * many components as the tokenizer has latent floats, scored on the same held-out images in the same
     * protocol. Computed once per run ({@code pca_baseline.json}); skipped when {@link PcaCodec#unfittable} says so.
     */
    private double[] pcaBaseline(int k, NDManager manager) {
        Path cache = runDir.resolve("pca_baseline.json");
        try {
            if (Files.exists(cache)) {
                JsonNode n = JSON.readTree(cache.toFile());
                if (n.path("components").asInt() == k) {
                    return new double[] {n.path("val_psnr").asDouble(), n.path("val_ssim").asDouble()};
                }
            }
        } catch (IOException e) {
            // an unreadable cache is recomputed below
        }
        if (PcaCodec.unfittable(3, imageSize, k, trainRows.length) != null) {
            return null;
        }
        listener.note("fitting the PCA baseline (" + k + " components) on " + trainRows.length + " training images");
        try (NDManager scope = manager.newSubManager()) {
            PcaCodec codec = PcaCodec.fit(dataset, trainRows, imageSize, k, config.run().globalSeed(), scope);
            ReconstructionMetrics m = new ReconstructionMetrics();
            m.add(valImages, codec.reconstruct(valImages));
            double[] out = {m.psnr(), m.ssim()};
            ObjectNode o = JSON.createObjectNode().put("components", k).put("train_images", trainRows.length)
                    .put("val_images", valImages.getShape().get(0)).put("val_psnr", out[0]).put("val_ssim", out[1]);
            writeJson(cache, o);
            return out;
        }
    }

    private static void writeJson(Path file, ObjectNode o) {
        try {
            AtomicFiles.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        loader.close();
    }
}
