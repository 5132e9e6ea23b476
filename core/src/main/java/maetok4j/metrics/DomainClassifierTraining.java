package maetok4j.metrics;

import maetok4j.analysis.Confusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.analysis.Confusion;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.ImageTransform;
import maetok4j.nn.Parameter;
import maetok4j.tensor.OwnedArrays;
import maetok4j.training.AdamW;
import maetok4j.training.CosineSchedule;
import maetok4j.training.TrainStep;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import static maetok4j.config.Fields.require;

/**
 * Trains a {@link DomainClassifier} on the labels of a dataset: a seeded held-out split, AdamW with a cosine
 * schedule, cross-entropy, and at most one augmentation, a horizontal flip. Each step runs in its own native
 * scope ({@link TrainStep}), so memory stays flat however long the run.
 *
 * <p>Every random choice comes from {@link Options#seed()}: the split, the initial weights, the data order
 * and the flips. The flips are drawn on this thread in batch order, so the same seed gives the same weights
 * whatever the loader threads do.
 *
 * <p>Images reach the network through the evaluation transform (the ADM center crop to {@code image_size}),
 * the same as the tokenizer's evaluation images, so reconstructions at that size are compared without a
 * resize. The flip is on by default: a mirrored garment or emoji is still the same class and still looks like
 * the data. Turn it off for data whose handedness matters (digits, text).
 */
public final class DomainClassifierTraining {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Training images an automatic run shows the network ({@link #epochsFor}). */
    public static final int AUTOMATIC_IMAGES = 40_000;

    private DomainClassifierTraining() {}

    /**
     * How to train.
     *
     * @param epochs passes over the training split; 0 picks {@link #epochsFor}
     * @param batchSize images per step (the last partial batch of an epoch is dropped: BatchNorm needs full ones)
     * @param lr peak learning rate of the cosine schedule
     * @param weightDecay AdamW's decoupled decay of the conv and head weights
     * @param imageSize side the network works at; 0 picks {@link #defaultImageSize}
     * @param widths channels of the conv blocks, the last being the feature width
     * @param valFraction share of the dataset held out for the accuracy
     * @param flip mirror each training image with probability 1/2
     * @param seed of the split, the weights, the data order and the flips
     * @param workers threads decoding images
     */
    public record Options(int epochs, int batchSize, double lr, double weightDecay, int imageSize, List<Integer> widths,
            double valFraction, boolean flip, long seed, int workers) {

        public static final List<Integer> DEFAULT_WIDTHS = List.of(32, 64, 128, 256);

        public Options {
            require(epochs >= 0, "epochs must be at least 1 (or 0 for automatic), got " + epochs);
            require(batchSize >= 2, "batch size must be at least 2 (BatchNorm needs batch statistics), got " + batchSize);
            require(lr > 0 && Double.isFinite(lr), "learning rate must be positive, got " + lr);
            require(weightDecay >= 0 && Double.isFinite(weightDecay), "weight decay must be >= 0, got " + weightDecay);
            require(imageSize == 0 || (imageSize >= 8 && imageSize <= 1024), "image size must be in [8, 1024] (or 0 for automatic), got " + imageSize);
            require(widths != null && !widths.isEmpty() && widths.stream().allMatch(w -> w != null && w > 0),
                    "widths must be a non-empty list of positive channel counts, got " + widths);
            require(valFraction > 0 && valFraction < 1, "validation fraction must be in (0, 1), got " + valFraction);
            require(workers >= 1, "workers must be at least 1, got " + workers);
            widths = List.copyOf(widths);
        }

        /** What {@code maetok eval train-features} uses unless told otherwise. */
        public static Options defaults() {
            return new Options(0, 64, 2e-3, 0.05, 0, DEFAULT_WIDTHS, 0.1, true, 0, 1);
        }

        public Options withEpochs(int e) {
            return new Options(e, batchSize, lr, weightDecay, imageSize, widths, valFraction, flip, seed, workers);
        }

        public Options withBatchSize(int b) {
            return new Options(epochs, b, lr, weightDecay, imageSize, widths, valFraction, flip, seed, workers);
        }

        public Options withImageSize(int s) {
            return new Options(epochs, batchSize, lr, weightDecay, s, widths, valFraction, flip, seed, workers);
        }

        public Options withSeed(long s) {
            return new Options(epochs, batchSize, lr, weightDecay, imageSize, widths, valFraction, flip, s, workers);
        }

        public Options withFlip(boolean f) {
            return new Options(epochs, batchSize, lr, weightDecay, imageSize, widths, valFraction, f, seed, workers);
        }

        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("epochs", epochs).put("batch_size", batchSize).put("lr", lr).put("weight_decay", weightDecay)
                    .put("image_size", imageSize);
            widths.forEach(o.putArray("widths")::add);
            o.put("val_fraction", valFraction).put("flip", flip).put("seed", seed);
            return o;
        }
    }

    /** Progress for a front end; called on the training thread. */
    public interface Listener {
        default void begin(long totalSteps) {}

        /** After each step: its loss and the training throughput so far. */
        default void step(long step, double loss, double imagesPerSecond) {}

        /** After each epoch (counted from 1): the held-out accuracy. */
        default void epoch(int epoch, double valAccuracy) {}
    }

    /**
     * What a run reports.
     *
     * @param trainLoss mean cross-entropy over the last epoch
     * @param chanceAccuracy the held-out share of its most frequent class: what always guessing it scores
     * @param imagesPerSecond training images per second of training steps (validation excluded)
     */
    public record Summary(String dataset, int imageSize, int trainImages, int valImages, int epochs, long steps,
            double trainLoss, double valAccuracy, double chanceAccuracy, double seconds, double imagesPerSecond, Options options) {

        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("dataset", dataset).put("image_size", imageSize).put("train_images", trainImages).put("val_images", valImages)
                    .put("epochs", epochs).put("steps", steps).put("train_loss", trainLoss).put("val_accuracy", valAccuracy)
                    .put("chance_accuracy", chanceAccuracy).put("seconds", seconds).put("images_per_second", imagesPerSecond);
            o.set("options", options.toJson());
            return o;
        }
    }

    /** The trained classifier and the run's summary; closing it closes the classifier. */
    public record Result(DomainClassifier classifier, Summary summary) implements AutoCloseable {

        @Override
        public void close() {
            classifier.close();
        }
    }

    /**
     * The side the network works at when the options leave it open: the dataset's image side clamped to
     * [32, 64]. Small images are upsampled to 32 so that four stride-2 blocks still leave a 2×2 map; large ones are
     * downsampled to 64, enough to tell domains apart and cheap on a CPU.
     */
    public static int defaultImageSize(Dataset data) {
        BufferedImage first = data.image(0);
        return Math.max(32, Math.min(64, Math.min(first.getWidth(), first.getHeight())));
    }

    /**
     * The epochs of a run when the options leave them open: as many as it takes to show the network about
     * {@value #AUTOMATIC_IMAGES} training images, so a small dataset gets more passes than a large one and every
     * run costs about the same.
     */
    public static int epochsFor(int trainImages) {
        return Math.max(1, Math.round((float) AUTOMATIC_IMAGES / trainImages));
    }

    /** Trains on {@code data}'s labels; throws when the data has no labels or too few images for one batch. */
    public static Result train(Dataset data, Options options, Listener listener) {
        if (data.classes().size() < 2) {
            throw new IllegalArgumentException("dataset " + data.name() + " has " + data.classes().size()
                    + " labelled classes: a domain classifier needs at least 2");
        }
        long start = System.nanoTime();
        int size = options.imageSize() > 0 ? options.imageSize() : defaultImageSize(data);
        int[][] split = DataLoader.split(data.size(), options.valFraction(), options.seed()); // [train rows, validation rows]
        if (split[1].length == 0 || split[0].length < options.batchSize()) {
            throw new IllegalArgumentException("dataset " + data.name() + " has " + data.size() + " images: too few to hold out "
                    + options.valFraction() + " of them and still fill a batch of " + options.batchSize());
        }
        DomainClassifier.Config config = new DomainClassifier.Config(data.name(), size, options.widths(), data.classes(), options.seed(), null);
        DomainClassifier classifier = DomainClassifier.create(config);
        boolean ok = false;
        try (NDManager manager = NDManager.newBaseManager();
                DataLoader trainLoader = new DataLoader(data, split[0], ImageTransform.eval(size), options.batchSize(), true, true,
                        options.seed(), options.workers(), 4);
                DataLoader valLoader = new DataLoader(data, split[1], ImageTransform.eval(size), options.batchSize(), false, false,
                        options.seed(), options.workers(), 2);
                AdamW optimizer = new AdamW(new AdamW.Config(0.9, 0.999, 1e-8, options.weightDecay()), manager)) {
            int epochs = options.epochs() > 0 ? options.epochs() : epochsFor(split[0].length);
            long totalSteps = (long) epochs * trainLoader.batchesPerEpoch();
            CosineSchedule schedule = new CosineSchedule(options.lr(), 0, 0, Math.max(1, totalSteps / 20), totalSteps);
            SplittableRandom flips = new SplittableRandom(options.seed() ^ 0x5DEECE66DL); // a stream apart from the weights' and the split's
            classifier.train(true);
            TrainStep.enableGradients(classifier);
            listener.begin(totalSteps);
            long step = 0;
            double trainSeconds = 0;
            double epochLoss = Double.NaN;
            double accuracy = Double.NaN;
            for (int epoch = 0; epoch < epochs; epoch++) {
                double lossSum = 0;
                int batches = 0;
                for (Iterator<DataLoader.Batch> it = trainLoader.epoch(epoch, 0); it.hasNext(); ) {
                    DataLoader.Batch batch = it.next();
                    float[] images = options.flip() ? flipSome(batch, flips) : batch.images();
                    long t0 = System.nanoTime();
                    TrainStep.Result r = TrainStep.run(classifier, manager,
                            scope -> crossEntropy(classifier.logits(OwnedArrays.of(scope, images,
                                    new Shape(batch.size(), 3, size, size))), batch.labels(), config.classes(), scope),
                            optimizer, schedule.lr(step), 0);
                    trainSeconds += (System.nanoTime() - t0) / 1e9;
                    step++;
                    lossSum += r.loss();
                    batches++;
                    listener.step(step, r.loss(), step * options.batchSize() / trainSeconds);
                }
                epochLoss = lossSum / batches;
                accuracy = accuracy(classifier, valLoader, epoch, manager);
                listener.epoch(epoch + 1, accuracy);
            }
            classifier.train(false);
            for (Parameter p : classifier.trainableParameters().values()) {
                p.array().setRequiresGradient(false); // a trained classifier is a fixed function, as a loaded one is
            }
            classifier.recordValAccuracy(accuracy);
            Summary summary = new Summary(data.name(), size, split[0].length, split[1].length, epochs, step, epochLoss,
                    accuracy, chance(data, split[1]), (System.nanoTime() - start) / 1e9,
                    step * options.batchSize() / trainSeconds, options);
            ok = true;
            return new Result(classifier, summary);
        } finally {
            if (!ok) {
                classifier.close();
            }
        }
    }

    /** Mean over the batch of {@code -log softmax(logits)[label]}: logits [B, K] → a scalar. */
    static NDArray crossEntropy(NDArray logits, long[] labels, int classes, NDManager scope) {
        float[] oneHot = new float[labels.length * classes];
        for (int b = 0; b < labels.length; b++) {
            oneHot[b * classes + (int) labels[b]] = 1;
        }
        NDArray target = OwnedArrays.of(scope, oneHot, new Shape(labels.length, classes)); // [B, K]
        return logits.logSoftmax(1).mul(target).sum(new int[] {1}).mean().neg();
    }

    /** The batch's images with each one mirrored left-right when the generator says so. */
    private static float[] flipSome(DataLoader.Batch batch, SplittableRandom rng) {
        float[] out = batch.images().clone(); // [n, 3, S, S]
        int s = batch.imageSize();
        for (int i = 0; i < batch.size(); i++) {
            if (!rng.nextBoolean()) {
                continue;
            }
            for (int row = i * 3 * s; row < (i + 1) * 3 * s; row++) { // every row of every channel of image i
                int base = row * s;
                for (int x = 0; x < s / 2; x++) {
                    float t = out[base + x];
                    out[base + x] = out[base + s - 1 - x];
                    out[base + s - 1 - x] = t;
                }
            }
        }
        return out;
    }

    /** Share of the held-out images whose largest logit is their label (evaluation mode). */
    private static double accuracy(DomainClassifier classifier, DataLoader loader, int epoch, NDManager manager) {
        long correct = 0;
        long total = 0;
        for (Iterator<DataLoader.Batch> it = loader.epoch(epoch, 0); it.hasNext(); ) {
            DataLoader.Batch batch = it.next();
            FeatureNetwork.Activations a;
            try (NDManager scope = manager.newSubManager()) {
                a = classifier.extract(batch.images(scope));
            }
            long[] predicted = Confusion.argmax(a.logits(), a.classes());
            for (int b = 0; b < predicted.length; b++) {
                correct += predicted[b] == batch.labels()[b] ? 1 : 0;
                total++;
            }
        }
        return (double) correct / total;
    }

    private static double chance(Dataset data, int[] rows) {
        int[] counts = new int[data.classes().size()];
        for (int r : rows) {
            counts[data.label(r)]++;
        }
        return (double) Arrays.stream(counts).max().orElse(0) / rows.length;
    }
}
