package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.analysis.Confusion;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.data.ImageSource;
import maetok4j.data.ImageTensors;
import maetok4j.metrics.DistributionMetrics;
import maetok4j.metrics.DomainClassifier;
import maetok4j.metrics.DomainClassifierTraining;
import maetok4j.metrics.FeatureNetwork;
import maetok4j.metrics.FeatureNetworks;
import maetok4j.metrics.FeatureSet;
import maetok4j.metrics.InceptionScore;
import maetok4j.metrics.KernelInceptionDistance;
import maetok4j.metrics.ReconstructionMetrics;
import maetok4j.metrics.ReferenceStatistics;
import maetok4j.metrics.TokenizerEvaluation;
import maetok4j.tensor.Npz;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code maetok eval}: reconstruction and generation metrics. Every number names the feature network behind
 * it, and a Fréchet distance is called FID only when that network declares itself the standard InceptionV3.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate tokenizers and samples: PSNR, SSIM, FD/FID, KID, IS, precision/recall.",
        subcommands = {EvalCommand.Recon.class, EvalCommand.Compare.class, EvalCommand.Samples.class, EvalCommand.Stats.class,
            EvalCommand.TrainFeatures.class, EvalCommand.Bench.class})
final class EvalCommand {

    private EvalCommand() {}

    /** The options of the set metrics, shared by the commands that compute them. */
    static final class SetOptions {

        @Option(names = "--features", paramLabel = "NET",
                description = "Feature network: a .pt/.onnx file with its .json beside it, or a domain-classifier folder (eval train-features).")
        Path features;

        @Option(names = "--kid-subsets", defaultValue = "100", description = "KID subsets (default: ${DEFAULT-VALUE}).")
        int kidSubsets;

        @Option(names = "--kid-subset-size", defaultValue = "1000", description = "KID subset size, capped at the set sizes (default: ${DEFAULT-VALUE}).")
        int kidSubsetSize;

        @Option(names = "--is-splits", defaultValue = "10", description = "Inception Score splits (default: ${DEFAULT-VALUE}).")
        int isSplits;

        @Option(names = "--k", defaultValue = "3", description = "Neighbourhood size of precision/recall (default: ${DEFAULT-VALUE}).")
        int k;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of KID's subsets and of any split (default: ${DEFAULT-VALUE}).")
        long seed;

        DistributionMetrics.Options options(CommandLine cmd) {
            try {
                return new DistributionMetrics.Options(new KernelInceptionDistance.Options(kidSubsets, kidSubsetSize, seed),
                        InceptionScore.Splits.count(isSplits), k);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cmd, e.getMessage());
            }
        }

        FeatureNetwork open() {
            return features == null ? null : FeatureNetworks.load(features);
        }
    }

    /** Options of the commands that stream images. */
    static final class RunOptions {

        @Option(names = "--batch-size", defaultValue = "32", description = "Images per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Option(names = "--no-progress", description = "No progress bar.")
        boolean noProgress;

        void validate(CommandLine cmd) {
            if (batchSize < 1) {
                throw new CommandLine.ParameterException(cmd, "--batch-size must be at least 1, got " + batchSize);
            }
        }
    }

    static String fdLine(DistributionMetrics.Result d, String prefix) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%s%s %s", prefix, d.fdName(), d.fd() == null ? "n/a" : String.format(Locale.ROOT, "%.4f", d.fd())));
        if (d.kid() != null) {
            s.append(String.format(Locale.ROOT, ", KID %.5f ± %.5f", d.kid().mean(), d.kid().std()));
        }
        if (d.is() != null) {
            s.append(String.format(Locale.ROOT, ", IS %.3f ± %.3f", d.is().mean(), d.is().std()));
        }
        if (d.precisionRecall() != null) {
            s.append(String.format(Locale.ROOT, ", precision %.4f, recall %.4f", d.precisionRecall().precision(), d.precisionRecall().recall()));
        }
        return s + "  [features: " + d.network() + "]";
    }

    static void printNotes(DistributionMetrics.Result d) {
        d.notes().forEach(n -> System.out.println("  note: " + n));
    }

    // ---- eval recon ---------------------------------------------------------------------------------------

    @Command(name = "recon", mixinStandardHelpOptions = true,
            description = "A tokenizer on held-out images: PSNR, SSIM, rFD, latent statistics, and the PCA codec with as many latent floats.")
    static final class Recon implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "MODEL", description = "A checkpoint folder or a preset name.")
        String model;

        @Option(names = "--data", required = true, paramLabel = "SOURCE", description = "A bundled dataset, a folder of images, a tensor file or a CIFAR folder.")
        String data;

        @Option(names = "--val-images", defaultValue = "1000", paramLabel = "N",
                description = "Held-out images scored, split off as training does (DataLoader.split with --seed); the rest fit the PCA baseline (default: ${DEFAULT-VALUE}).")
        int valImages;

        @Option(names = "--no-pca", description = "Skip the PCA baseline.")
        boolean noPca;

        @Mixin
        SetOptions set;

        @Mixin
        RunOptions run;

        @Override
        public Integer call() {
            run.validate(spec.commandLine());
            DistributionMetrics.Options options = set.options(spec.commandLine());
            if (valImages < 2) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--val-images must be at least 2, got " + valImages);
            }
            Dataset dataset = Datasets.open(data, false, false, 0, null);
            if (valImages >= dataset.size()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--val-images (" + valImages + ") must be smaller than "
                        + data + " (" + dataset.size() + " images)");
            }
            int[][] split = DataLoader.split(dataset.size(), (double) valImages / dataset.size(), set.seed);
            TokenizerEvaluation.Result r;
            try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(model, manager);
                    FeatureNetwork net = set.open()) {
                TokenizerEvaluation.Options o = new TokenizerEvaluation.Options(run.batchSize, !noPca, set.seed, options);
                try (Progress progress = new Progress("eval recon", split[1].length, "img", !run.noProgress)) {
                    r = TokenizerEvaluation.run(tokenizer, dataset, split[1], split[0], net, o, progress::step,
                            note -> System.err.println(note), manager);
                }
            }
            ObjectNode json = r.toJson(Reports.JSON);
            json.put("model", model).put("data", data).put("seed", set.seed);
            Reports.write(run.json, json);
            System.out.printf(Locale.ROOT, "%s on %d held-out images of %s (%d px) in %.1f s%n", model, r.images(), data, r.imageSize(), r.seconds());
            System.out.printf(Locale.ROOT, "  tokenizer: PSNR %.3f dB, SSIM %.4f%n", r.tokenizer().psnr(), r.tokenizer().ssim());
            if (r.tokenizer().distribution() != null) {
                System.out.println(fdLine(r.tokenizer().distribution(), "             r"));
                printNotes(r.tokenizer().distribution());
            }
            var l = r.latents();
            System.out.printf(Locale.ROOT, "  latents %s: mean %.4f, std %.4f, range [%.3f, %.3f], channel std %.4f..%.4f%s%n",
                    java.util.Arrays.toString(l.latentShape()), l.mean(), l.std(), l.min(), l.max(),
                    java.util.Arrays.stream(l.channelStd()).min().orElse(Double.NaN), java.util.Arrays.stream(l.channelStd()).max().orElse(Double.NaN),
                    l.nonFinite() > 0 ? ", " + l.nonFinite() + " NON-FINITE values" : "");
            if (r.pca() != null) {
                System.out.printf(Locale.ROOT, "  PCA codec (%d components, fitted on %d training images): PSNR %.3f dB, SSIM %.4f%n",
                        r.pcaComponents(), r.trainImages(), r.pca().psnr(), r.pca().ssim());
                if (r.pca().distribution() != null) {
                    System.out.println(fdLine(r.pca().distribution(), "             r"));
                }
            } else {
                System.out.println("  PCA codec: skipped (" + r.pcaSkipped() + ")");
            }
            return 0;
        }
    }

    // ---- eval compare -------------------------------------------------------------------------------------

    @Command(name = "compare", mixinStandardHelpOptions = true,
            description = "Two sets of images: PSNR and SSIM over pairs (matched by name, else by index), FD, KID, IS, precision and recall over the sets.")
    static final class Compare implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "REAL", description = "A folder of images or a .safetensors file with 'images'.")
        Path real;

        @Parameters(index = "1", paramLabel = "FAKE", description = "A folder of images or a .safetensors file with 'images'.")
        Path fake;

        @Option(names = "--image-size", paramLabel = "N", description = "Compare at this size (ADM center crops); default: REAL's size.")
        Integer imageSize;

        @Mixin
        SetOptions set;

        @Mixin
        RunOptions run;

        @Override
        public Integer call() {
            run.validate(spec.commandLine());
            DistributionMetrics.Options options = set.options(spec.commandLine());
            int size = imageSize != null ? imageSize : ImageSource.firstImageSize(List.of(real));
            ImageSource a = ImageSource.open(List.of(real), size, true);
            ImageSource b = ImageSource.open(List.of(fake), size, true);
            int[] pairs = pairs(a, b); // b's index for each image of a, or null when the sets do not pair
            ReconstructionMetrics recon = new ReconstructionMetrics();
            DistributionMetrics.Result dist = null;
            try (NDManager manager = NDManager.newBaseManager(); FeatureNetwork net = set.open()) {
                FeatureSet realSet = net == null ? null : new FeatureSet(net, true);
                FeatureSet fakeSet = net == null ? null : new FeatureSet(net, true);
                boolean show = !run.noProgress;
                Batches.run("eval compare", a.size(), run.batchSize, show, manager, (first, count, scope) -> {
                    NDArray x = a.batch(first, count, scope);
                    if (realSet != null) {
                        realSet.add(x);
                    }
                    if (pairs != null) {
                        NDArray y = pairedBatch(b, pairs, first, count, scope);
                        recon.add(x, y);
                        if (fakeSet != null) {
                            fakeSet.add(y);
                        }
                    }
                });
                if (pairs == null && fakeSet != null) {
                    Batches.run("eval compare (fake)", b.size(), run.batchSize, show, manager,
                            (first, count, scope) -> fakeSet.add(b.batch(first, count, scope)));
                }
                if (realSet != null) {
                    dist = DistributionMetrics.compare(realSet, fakeSet, options);
                }
            }
            ObjectNode json = dist != null ? dist.toJson(Reports.JSON) : emptySetMetrics();
            json.put("real", real.toString()).put("fake", fake.toString()).put("image_size", size);
            if (pairs != null) {
                json.put("psnr", recon.psnr()).put("ssim", recon.ssim()).put("pairs", recon.count());
            } else {
                json.putNull("psnr").putNull("ssim").put("pairs", 0);
            }
            Reports.write(run.json, json);
            System.out.printf(Locale.ROOT, "%s (%d) vs %s (%d) at %d px%n", real, a.size(), fake, b.size(), size);
            if (pairs != null) {
                System.out.printf(Locale.ROOT, "  %d pairs: PSNR %.3f dB, SSIM %.4f%n", recon.count(), recon.psnr(), recon.ssim());
            } else {
                System.out.println("  PSNR/SSIM: the sets do not pair (different sizes and names)");
            }
            if (dist != null) {
                System.out.println(fdLine(dist, "  "));
                printNotes(dist);
            } else {
                System.out.println("  FD, KID, IS, precision/recall: no feature network given (--features)");
            }
            return 0;
        }

        /** Pairs by name when both sets have the same names, else by index when they have the same size. */
        static int[] pairs(ImageSource a, ImageSource b) {
            Map<String, Integer> byName = new HashMap<>();
            for (int i = 0; i < b.size(); i++) {
                byName.put(b.items().get(i).name(), i);
            }
            int[] p = new int[a.size()];
            boolean named = a.size() == b.size() && byName.size() == b.size();
            for (int i = 0; i < a.size() && named; i++) {
                Integer j = byName.get(a.items().get(i).name());
                named = j != null;
                p[i] = named ? j : -1;
            }
            if (named) {
                return p;
            }
            if (a.size() != b.size()) {
                return null;
            }
            for (int i = 0; i < p.length; i++) {
                p[i] = i;
            }
            return p;
        }

        private static NDArray pairedBatch(ImageSource b, int[] pairs, int first, int count, NDManager scope) {
            List<NDArray> rows = new ArrayList<>();
            int i = first;
            while (i < first + count) { // runs of consecutive indices load as one batch
                int j = i + 1;
                while (j < first + count && pairs[j] == pairs[j - 1] + 1) {
                    j++;
                }
                rows.add(b.batch(pairs[i], j - i, scope));
                i = j;
            }
            return rows.size() == 1 ? rows.get(0) : ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(rows), 0);
        }

        private static ObjectNode emptySetMetrics() {
            ObjectNode o = Reports.object();
            for (String k : List.of("fd", "kid", "is", "precision", "recall")) {
                o.putNull(k);
            }
            o.putArray("notes").add("no feature network given (--features)");
            return o;
        }
    }

    // ---- eval samples and eval stats ----------------------------------------------------------------------

    /**
     * The reference side of a generation metric: a data source's images, an ADM reference batch ({@code .npz}
     * with the images in {@code arr_0}), or stored statistics ({@code .npz} with only {@code mu} and {@code sigma}).
     */
    static final class Reference {

        @Option(names = "--ref", required = true, paramLabel = "SOURCE|FILE.npz",
                description = "Reference images (a bundled dataset, folder, tensor file, CIFAR folder, or an ADM reference batch .npz with arr_0)"
                        + " or statistics (.npz with mu, sigma).")
        String ref;

        @Option(names = "--ref-images", paramLabel = "N", description = "Use N reference images, drawn with --seed (the first N of an .npz; default: all).")
        Integer refImages;

        /** Only statistics: an {@code .npz} without images. */
        boolean isStatistics() {
            return isNpz() && !Npz.keys(Path.of(ref)).contains(ADM_IMAGES);
        }

        private boolean isNpz() {
            return ref.toLowerCase(Locale.ROOT).endsWith(".npz");
        }

        static final String ADM_IMAGES = "arr_0";

        /** Streams the reference images at {@code size} into {@code set}. */
        void gather(FeatureSet set, int size, int batchSize, long seed, boolean showProgress, NDManager manager) {
            if (isNpz()) {
                gatherNpz(set, size, batchSize, showProgress, manager);
                return;
            }
            Dataset data = Datasets.open(ref, false, false, 0, null);
            int[] rows;
            if (refImages == null || refImages >= data.size()) {
                rows = java.util.stream.IntStream.range(0, data.size()).toArray();
            } else {
                rows = DataLoader.split(data.size(), (double) refImages / data.size(), seed)[1];
            }
            Batches.run("reference", rows.length, batchSize, showProgress, manager, (first, count, scope) ->
                    set.add(ImageTensors.load(data, java.util.Arrays.copyOfRange(rows, first, first + count), size, scope)));
        }

        private void gatherNpz(FeatureSet set, int size, int batchSize, boolean showProgress, NDManager manager) {
            Path file = Path.of(ref);
            try (Npz.ArrayReader images = Npz.openArray(file, ADM_IMAGES)) {
                long[] s = images.shape();
                if (!images.dtype().equals("|u1") || s.length != 4 || s[3] != 3) {
                    throw new TensorFileException(file + ": '" + ADM_IMAGES + "' must be uint8 [N, H, W, 3], got " + images.dtype() + " "
                            + java.util.Arrays.toString(s));
                }
                if (s[1] != size || s[2] != size) {
                    throw new TensorFileException(file + ": reference images are " + s[2] + "x" + s[1] + ", the samples " + size + "x" + size);
                }
                int n = Math.toIntExact(refImages == null ? images.rows() : Math.min(refImages, images.rows()));
                // batches come in order, so each reads the entry's next rows
                Batches.run("reference", n, batchSize, showProgress, manager, (first, count, scope) ->
                        set.add(ImageTensors.fromHwcBytes(images.readRows(count).data(), count, size, size, scope)));
            }
        }
    }

    @Command(name = "samples", mixinStandardHelpOptions = true,
            description = "Generated samples against a reference: gFD (gFID with InceptionV3), KID, IS, precision and recall.")
    static final class Samples implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "DIR|FILE", description = "The samples: a folder of images or a .safetensors file with 'images'.")
        Path samples;

        @Mixin
        Reference reference;

        @Mixin
        SetOptions set;

        @Mixin
        RunOptions run;

        @Option(names = "--labels", paramLabel = "FILE",
                description = {"The labels the samples were drawn for ('labels' in a .safetensors file; default: the samples' tensor file's own):",
                        "the feature network's classifier accuracy on them is reported."})
        Path labels;

        @Override
        public Integer call() {
            run.validate(spec.commandLine());
            DistributionMetrics.Options options = set.options(spec.commandLine());
            if (set.features == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--features NET is required: generation metrics compare features");
            }
            long[] drawnFor = sampleLabels();
            int size = ImageSource.firstImageSize(List.of(samples));
            ImageSource fakes = ImageSource.open(List.of(samples), size, true);
            DistributionMetrics.Result d;
            Confusion accuracy;
            try (NDManager manager = NDManager.newBaseManager(); FeatureNetwork net = set.open()) {
                FeatureSet fake = new FeatureSet(net, true);
                Batches.run("samples", fakes.size(), run.batchSize, !run.noProgress, manager,
                        (first, count, scope) -> fake.add(fakes.batch(first, count, scope)));
                FeatureSet real;
                if (reference.isStatistics()) {
                    ReferenceStatistics.Stored stored = ReferenceStatistics.readWithNetwork(Path.of(reference.ref));
                    real = FeatureSet.ofStatistics(stored.statistics(), stored.network());
                } else {
                    real = new FeatureSet(net, true);
                    reference.gather(real, size, run.batchSize, set.seed, !run.noProgress, manager);
                }
                d = DistributionMetrics.compare(real, fake, options);
                accuracy = classifierAccuracy(fake, drawnFor);
            }
            ObjectNode json = d.toJson(Reports.JSON);
            json.put("samples", samples.toString()).put("ref", reference.ref).put("image_size", size);
            json.put("g" + d.fdName().toLowerCase(Locale.ROOT), d.fd());
            System.out.printf(Locale.ROOT, "%d samples (%d px) vs %s%n", d.fakeCount(), size, reference.ref);
            System.out.println(fdLine(d, "  g"));
            if (accuracy != null) {
                json.put("classifier_accuracy", accuracy.accuracy());
                double[] perClass = accuracy.classAccuracy();
                Arrays.stream(perClass).forEach(json.putArray("classifier_class_accuracy")::add);
                System.out.printf(Locale.ROOT, "  classifier accuracy on the drawn labels: %.4f (%s)%n", accuracy.accuracy(), set.features);
            }
            Reports.write(run.json, json);
            printNotes(d);
            return 0;
        }

        /** --labels, else the samples' own 'labels' when they are a tensor file holding them, else none. */
        private long[] sampleLabels() {
            Path file = labels != null ? labels : samples.toString().endsWith(".safetensors") ? samples : null;
            if (file == null) {
                return null;
            }
            try (Safetensors s = Safetensors.open(file); NDManager m = NDManager.newBaseManager()) {
                if (!s.contains("labels")) {
                    if (labels != null) {
                        throw new TensorFileException(file + ": no tensor 'labels' (has: " + String.join(", ", s.tensors().keySet()) + ")");
                    }
                    return null;
                }
                return s.readAs("labels", m, DataType.INT64).toLongArray();
            }
        }

        /** How often the network's classifier names the label each sample was drawn for. */
        private Confusion classifierAccuracy(FeatureSet fake, long[] drawnFor) {
            if (drawnFor == null) {
                return null;
            }
            if (drawnFor.length != fake.count()) {
                throw new IllegalArgumentException((labels != null ? labels : samples) + ": " + drawnFor.length + " labels for " + fake.count()
                        + " samples");
            }
            if (!fake.hasLogits()) {
                throw new IllegalArgumentException(set.features + ": the feature network has no logits, so it cannot classify the samples");
            }
            return Confusion.of(drawnFor, Confusion.argmax(fake.logits(), fake.classes()), fake.classes());
        }
    }

    @Command(name = "stats", mixinStandardHelpOptions = true,
            description = "Reference statistics (mu, sigma; ADM .npz layout) of a data source under a feature network, for eval samples --ref.")
    static final class Stats implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "SOURCE", description = "A bundled dataset, a folder of images, a tensor file or a CIFAR folder.")
        String source;

        @Option(names = "--features", required = true, paramLabel = "NET", description = "The feature network.")
        Path features;

        @Option(names = "--image-size", required = true, paramLabel = "N", description = "The size the images are center-cropped to (that of the samples).")
        int imageSize;

        @Option(names = "--images", paramLabel = "N", description = "Use N images drawn with --seed (default: all).")
        Integer images;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the image draw (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "STATS.npz", description = "Where to write the statistics.")
        Path out;

        @Mixin
        RunOptions run;

        @Override
        public Integer call() {
            run.validate(spec.commandLine());
            if (imageSize < 8) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--image-size must be at least 8, got " + imageSize);
            }
            Reference r = new Reference();
            r.ref = source;
            r.refImages = images;
            FeatureSet set;
            try (NDManager manager = NDManager.newBaseManager(); FeatureNetwork net = FeatureNetworks.load(features)) {
                set = new FeatureSet(net, false);
                r.gather(set, imageSize, run.batchSize, seed, !run.noProgress, manager);
            }
            ReferenceStatistics.write(out, set.statistics(), set.network());
            Reports.write(run.json, Reports.object().put("source", source).put("images", set.count()).put("image_size", imageSize)
                    .put("feature_network", set.network()).put("dimension", set.dimension()).put("out", out.toString()));
            System.out.printf(Locale.ROOT, "statistics of %d images of %s (%d px, %d features of %s) -> %s%n", set.count(), source, imageSize,
                    set.dimension(), set.network(), out);
            return 0;
        }
    }

    // ---- eval train-features ------------------------------------------------------------------------------

    @Command(name = "train-features", mixinStandardHelpOptions = true,
            description = "Train a domain classifier on a dataset; its penultimate features give a reproducible FD (never called FID).")
    static final class TrainFeatures implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--data", required = true, paramLabel = "SOURCE", description = "A bundled dataset, a folder of images, a tensor file or a CIFAR folder (with labels).")
        String data;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "The classifier's checkpoint folder (config.json + model.safetensors).")
        Path out;

        @Option(names = "--epochs", defaultValue = "0", description = "Passes over the training split; 0 = enough for ~40,000 images (default: ${DEFAULT-VALUE}).")
        int epochs;

        @Option(names = "--image-size", defaultValue = "0", description = "Side the classifier works at; 0 = the data's, clamped to [32, 64] (default: ${DEFAULT-VALUE}).")
        int imageSize;

        @Option(names = "--batch-size", defaultValue = "64", description = "Images per step (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the split, the weights and the data order (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--force", description = "Replace an existing checkpoint in DIR.")
        boolean force;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the summary as JSON to FILE.")
        Path json;

        @Option(names = "--no-progress", description = "No progress bar.")
        boolean noProgress;

        @Override
        public Integer call() {
            DomainClassifierTraining.Options options;
            try {
                options = DomainClassifierTraining.Options.defaults().withEpochs(epochs).withImageSize(imageSize).withBatchSize(batchSize)
                        .withSeed(seed);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            if (Files.exists(out.resolve(DomainClassifier.CONFIG)) && !force) {
                throw new IllegalArgumentException(out + ": already holds a classifier; pass --force to replace it");
            }
            Dataset dataset = Datasets.open(data, true, false, 0, null);
            DomainClassifierTraining.Summary s;
            ProgressListener listener = new ProgressListener(!noProgress);
            try (DomainClassifierTraining.Result r = DomainClassifierTraining.train(dataset, options, listener)) {
                listener.close();
                r.classifier().save(out);
                s = r.summary();
            } finally {
                listener.close();
            }
            ObjectNode o = s.toJson();
            o.put("data", data).put("out", out.toString());
            Reports.write(json, o);
            System.out.printf(Locale.ROOT, "domain classifier on %s: %d epochs (%d steps) in %.0f s (%.0f img/s), held-out accuracy %.2f%%"
                    + " (chance %.2f%%) -> %s%n", data, s.epochs(), s.steps(), s.seconds(), s.imagesPerSecond(), 100 * s.valAccuracy(),
                    100 * s.chanceAccuracy(), out);
            System.out.println("use it with --features " + out + " (its Frechet distances are reported as FD, not FID)");
            return 0;
        }

        /** The training's progress as a bar over steps, with the loss. */
        private static final class ProgressListener implements DomainClassifierTraining.Listener {
            private final boolean show;
            private Progress bar;
            private long done;

            ProgressListener(boolean show) {
                this.show = show;
            }

            @Override
            public void begin(long totalSteps) {
                bar = new Progress("train-features", totalSteps, "step", show);
            }

            @Override
            public void step(long step, double loss, double imagesPerSecond) {
                if (bar != null) {
                    bar.step(step - done);
                    done = step;
                }
            }

            void close() {
                if (bar != null) {
                    bar.close();
                    bar = null;
                }
            }
        }
    }

    // ---- eval bench ---------------------------------------------------------------------------------------

    @Command(name = "bench", mixinStandardHelpOptions = true,
            description = "Throughput of PSNR+SSIM and of feature extraction (+ running statistics), and the time of one FD, on random images.")
    static final class Bench implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--features", paramLabel = "NET", description = "Also time this feature network.")
        Path features;

        @Option(names = "--image-size", defaultValue = "256", description = "Image side (default: ${DEFAULT-VALUE}).")
        int imageSize;

        @Option(names = "--batch-size", defaultValue = "16", description = "Images per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--iterations", defaultValue = "5", description = "Timed batches (default: ${DEFAULT-VALUE}).")
        int iterations;

        @Option(names = "--warmup", defaultValue = "1", description = "Untimed batches first (default: ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Override
        public Integer call() {
            if (batchSize < 1 || iterations < 1 || warmup < 0 || imageSize < 8) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--batch-size and --iterations must be at least 1, --warmup at least 0, --image-size at least 8");
            }
            ObjectNode out = Reports.object().put("image_size", imageSize).put("batch_size", batchSize).put("iterations", iterations)
                    .put("threads", Runtime.getRuntime().availableProcessors());
            try (NDManager manager = NDManager.newBaseManager(); FeatureNetwork net = features == null ? null : FeatureNetworks.load(features)) {
                ReconstructionMetrics recon = new ReconstructionMetrics();
                FeatureSet set = net == null ? null : new FeatureSet(net, false);
                double[] ssim = new double[iterations];
                double[] feat = new double[iterations];
                java.util.Random rng = new java.util.Random(0);
                try (Progress progress = new Progress("eval bench", warmup + iterations, "batch", true)) {
                    for (int i = -warmup; i < iterations; i++) {
                        try (NDManager scope = manager.newSubManager()) {
                            Shape shape = new Shape(batchSize, 3, imageSize, imageSize);
                            float[] a = new float[(int) shape.size()];
                            float[] b = new float[a.length];
                            for (int j = 0; j < a.length; j++) {
                                a[j] = rng.nextFloat() * 2 - 1;
                                b[j] = Math.max(-1, Math.min(1, a[j] + 0.2f * (float) rng.nextGaussian()));
                            }
                            NDArray x = maetok4j.tensor.OwnedArrays.of(scope, a, shape);
                            NDArray y = maetok4j.tensor.OwnedArrays.of(scope, b, shape);
                            long t0 = System.nanoTime();
                            recon.add(x, y);
                            long t1 = System.nanoTime();
                            if (set != null) {
                                set.add(x);
                            }
                            long t2 = System.nanoTime();
                            if (i >= 0) {
                                ssim[i] = (t1 - t0) / 1e9;
                                feat[i] = (t2 - t1) / 1e9;
                            }
                        }
                        progress.step(1);
                    }
                }
                double ssimMedian = BenchCommand.median(ssim);
                out.put("psnr_ssim_images_per_second", batchSize / ssimMedian);
                System.out.printf(Locale.ROOT, "%d px, batch %d, %d timed batches (medians), %d threads:%n", imageSize, batchSize, iterations,
                        Runtime.getRuntime().availableProcessors());
                System.out.printf(Locale.ROOT, "  PSNR + SSIM            %9.2f img/s%n", batchSize / ssimMedian);
                if (set != null) {
                    double featMedian = BenchCommand.median(feat);
                    long t0 = System.nanoTime();
                    maetok4j.metrics.FrechetDistance.between(set.statistics(), set.statistics());
                    double fdSeconds = (System.nanoTime() - t0) / 1e9;
                    out.put("feature_network", net.name()).put("feature_dim", net.featureDim())
                            .put("features_images_per_second", batchSize / featMedian).put("fd_seconds", fdSeconds);
                    System.out.printf(Locale.ROOT, "  features + statistics  %9.2f img/s  (%s, %d features)%n", batchSize / featMedian, net.name(),
                            net.featureDim());
                    System.out.printf(Locale.ROOT, "  one Frechet distance   %9.2f s (D = %d)%n", fdSeconds, net.featureDim());
                }
            }
            Reports.write(json, out);
            return 0;
        }
    }
}
