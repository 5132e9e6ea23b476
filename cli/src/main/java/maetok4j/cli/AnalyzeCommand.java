package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.analysis.GaussianMixture;
import maetok4j.analysis.GmmBenchmark;
import maetok4j.analysis.LinearProbe;
import maetok4j.analysis.LogisticRegression;
import maetok4j.analysis.ModeAnalysis;
import maetok4j.analysis.Pca;
import maetok4j.data.DataLoader;
import maetok4j.data.Dataset;
import maetok4j.data.ImageGrid;
import maetok4j.data.ImageTensors;
import maetok4j.latents.LatentCache;
import maetok4j.latents.LatentSet;
import maetok4j.metrics.Smoothness;
import maetok4j.plot.Charts;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code maetok analyze}: the shape of a latent space (modes, linear separability, smoothness, a 2D view). */
@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = "Latent-space analyses: GMM mode count, linear probe, decoder smoothness, 2D scatter.",
        subcommands = {AnalyzeCommand.Gmm.class, AnalyzeCommand.Probe.class, AnalyzeCommand.SmoothnessCommand.class,
            AnalyzeCommand.Scatter.class, AnalyzeCommand.GmmBench.class})
final class AnalyzeCommand {

    private AnalyzeCommand() {}

    /** A latent set's rows for fitting and scoring: the given test set, else a seeded split of whole groups. */
    record Split(NDArray train, NDArray test, long[] trainLabels, long[] testLabels) {}

    static Split split(LatentSet set, LatentSet test, double testFraction, long seed, boolean pool, int maxRows, NDManager manager) {
        NDArray all = features(set, pool, manager);
        if (test != null) {
            if (!Arrays.equals(test.latentShape(), set.latentShape())) {
                throw new IllegalArgumentException(test.source() + ": latents " + Arrays.toString(test.latentShape()) + " do not match "
                        + set.source() + "'s " + Arrays.toString(set.latentShape()));
            }
            NDArray t = features(test, pool, manager);
            int[] rows = capped(allRows(set.size()), maxRows, seed);
            return new Split(LatentSet.rows(all, rows, manager), t, set.labelled() ? set.labels(rows) : null, test.labels());
        }
        int[][] s = set.split(testFraction, seed);
        int[] train = capped(s[0], maxRows, seed);
        return new Split(LatentSet.rows(all, train, manager), LatentSet.rows(all, s[1], manager),
                set.labelled() ? set.labels(train) : null, set.labelled() ? set.labels(s[1]) : null);
    }

    /** One vector per latent: averaged over tokens (or positions) when pooled, else flattened. */
    static NDArray features(LatentSet set, boolean pool, NDManager manager) {
        return pool ? set.pooled(manager) : set.flattened(manager);
    }

    /** {@code --pool}: true for "mean", false for "none"; anything else is a usage error. */
    static boolean meanPooling(CommandLine cmd, String pool) {
        if (!pool.equals("none") && !pool.equals("mean")) {
            throw new CommandLine.ParameterException(cmd, "--pool must be none or mean, got '" + pool + "'");
        }
        return pool.equals("mean");
    }

    private static int[] allRows(int n) {
        int[] r = new int[n];
        Arrays.setAll(r, i -> i);
        return r;
    }

    /** At most {@code max} of the rows (0: all), chosen with the seed, kept in order. */
    private static int[] capped(int[] rows, int max, long seed) {
        if (max <= 0 || rows.length <= max) {
            return rows;
        }
        int[] pick = DataLoader.split(rows.length, (double) max / rows.length, seed)[1];
        return Arrays.stream(pick).map(i -> rows[i]).sorted().toArray();
    }

    static List<Double> parseDoubles(CommandLine cmd, String option, String text) {
        List<Double> out = new ArrayList<>();
        for (String p : text.split(",")) {
            try {
                out.add(Double.parseDouble(p.trim()));
            } catch (NumberFormatException e) {
                throw new CommandLine.ParameterException(cmd, option + ": not a number: '" + p + "'");
            }
        }
        return out;
    }

    // ---- analyze gmm --------------------------------------------------------------------------------------

    @Command(name = "gmm", mixinStandardHelpOptions = true,
            description = "GMM mode analysis: flatten, PCA, standardise, fit mixtures for each K; held-out NLL per dimension and BIC.")
    static final class Gmm implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(arity = "1..*", paramLabel = "LATENTS", description = "Latent stores or tensor files; several give one line each in the plot.")
        List<Path> latents;

        @Option(names = "--test", paramLabel = "LATENTS", description = "Held-out latents, once per LATENTS in order (default: a seeded split).")
        List<Path> tests = new ArrayList<>();

        @Option(names = "--k", defaultValue = "5,10,50", split = ",", paramLabel = "K", description = "Component counts (default: ${DEFAULT-VALUE}).")
        List<Integer> ks;

        @Option(names = "--covariance", defaultValue = "diag", split = ",", paramLabel = "TYPE",
                description = "diag, full or both as 'diag,full' (default: ${DEFAULT-VALUE}).")
        List<String> covariances;

        @Option(names = "--pca-variance", paramLabel = "SHARE", description = "PCA to the fewest components explaining more than SHARE (default 0.9).")
        Double pcaVariance;

        @Option(names = "--pca-dims", paramLabel = "N", description = "PCA to N components.")
        Integer pcaDims;

        @Option(names = "--pca", paramLabel = "none", description = "'none': no PCA.")
        String pca;

        @Option(names = "--no-standardize", description = "Do not standardise the dimensions after PCA.")
        boolean noStandardize;

        @Option(names = "--restarts", defaultValue = "1", description = "EM runs per fit, the best kept (default: ${DEFAULT-VALUE}).")
        int restarts;

        @Option(names = "--tol", defaultValue = "1e-3", description = "EM convergence tolerance on the mean log-likelihood (default: ${DEFAULT-VALUE}).")
        double tol;

        @Option(names = "--max-iter", defaultValue = "100", description = "EM iterations at most (default: ${DEFAULT-VALUE}).")
        int maxIter;

        @Option(names = "--reg-covar", defaultValue = "1e-6", description = "Added to covariance diagonals (default: ${DEFAULT-VALUE}).")
        double regCovar;

        @Option(names = "--test-fraction", defaultValue = "0.2", description = "Held-out share without --test (default: ${DEFAULT-VALUE}, as the reference).")
        double testFraction;

        @Option(names = "--max-rows", defaultValue = "0", paramLabel = "N", description = "Fit on at most N training rows, chosen with the seed (default: all).")
        int maxRows;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the split, subsampling and EM initialisation (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--plot", paramLabel = "OUT.png", description = "Held-out NLL per dimension against K, one line per latent set and covariance.")
        Path plot;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Option(names = "--no-progress", description = "No progress bar.")
        boolean noProgress;

        @Override
        public Integer call() {
            CommandLine cmd = spec.commandLine();
            if (!tests.isEmpty() && tests.size() != latents.size()) {
                throw new CommandLine.ParameterException(cmd, "--test must be given once per LATENTS (" + latents.size() + "), got " + tests.size());
            }
            ModeAnalysis.Options options;
            try {
                options = new ModeAnalysis.Options(ks, covariances.stream().map(GaussianMixture.Covariance::parse).toList(), reduction(cmd),
                        !noStandardize, restarts, tol, maxIter, regCovar, seed);
                if (!(testFraction > 0 && testFraction < 1)) {
                    throw new IllegalArgumentException("--test-fraction must be in (0, 1), got " + testFraction);
                }
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cmd, e.getMessage());
            }
            ObjectNode out = Reports.object();
            ArrayNode results = out.putArray("results");
            ArrayNode sets = out.putArray("sets");
            List<Charts.Series> lines = new ArrayList<>();
            int fits = ks.size() * options.covariances().size() * latents.size();
            try (NDManager manager = NDManager.newBaseManager(); Progress progress = new Progress("gmm", fits, "fit", !noProgress)) {
                for (int i = 0; i < latents.size(); i++) {
                    ModeAnalysis.Result r;
                    String name = latents.get(i).toString();
                    try (NDManager scope = manager.newSubManager(); LatentSet set = LatentSet.load(latents.get(i), scope);
                            LatentSet test = tests.isEmpty() ? null : LatentSet.load(tests.get(i), scope)) {
                        Split s = split(set, test, testFraction, seed, false, maxRows, scope);
                        int[] iteration = {0};
                        r = ModeAnalysis.run(s.train(), s.test(), options, f -> {
                            progress.step(1);
                            iteration[0] = 0;
                        }, it -> progress.message("EM iteration " + (++iteration[0])));
                    }
                    ObjectNode so = sets.addObject().put("latents", name).put("train_rows", r.trainRows()).put("test_rows", r.testRows())
                            .put("input_dim", r.inputDimension()).put("dim", r.dimension()).put("explained_variance", r.explainedVariance())
                            .put("standardized", r.standardized()).put("reduction", options.reduction().toString());
                    System.out.printf(Locale.ROOT, "%s: %d train / %d test rows, %d dims -> %d%s%s%n", name, r.trainRows(), r.testRows(),
                            r.inputDimension(), r.dimension(), options.reduction().isNone() ? " (no PCA)"
                                    : String.format(Locale.ROOT, " by PCA (%.4f of the variance)", r.explainedVariance()),
                            r.standardized() ? ", standardised" : "");
                    System.out.printf(Locale.ROOT, "  %-6s %5s %14s %14s %16s %6s %9s%n", "cov", "K", "test NLL/dim", "train NLL/dim",
                            "BIC", "iters", "seconds");
                    for (GaussianMixture.Covariance c : options.covariances()) {
                        List<ModeAnalysis.Fit> mine = r.fits().stream().filter(f -> f.covariance() == c).toList();
                        for (ModeAnalysis.Fit f : mine) {
                            System.out.printf(Locale.ROOT, "  %-6s %5d %14.5f %14.5f %16.1f %6d%s %8.2f%n", name(c), f.k(), f.nllPerDim(),
                                    f.trainNllPerDim(), f.bic(), f.iterations(), f.converged() ? " " : "*", f.seconds());
                            results.addObject().put("latents", name).put("k", f.k()).put("covariance", name(c))
                                    .put("nll_per_dim", f.nllPerDim()).put("train_nll_per_dim", f.trainNllPerDim()).put("bic", f.bic())
                                    .put("parameters", f.parameters()).put("iterations", f.iterations()).put("converged", f.converged())
                                    .put("seconds", f.seconds());
                        }
                        lines.add(new Charts.Series(latents.get(i).getFileName() + " (" + name(c) + ")",
                                mine.stream().mapToDouble(ModeAnalysis.Fit::k).toArray(),
                                mine.stream().mapToDouble(ModeAnalysis.Fit::nllPerDim).toArray()));
                    }
                    so.put("dim", r.dimension());
                }
            }
            if (results.findValues("converged").stream().anyMatch(v -> !v.asBoolean())) {
                System.out.println("  * EM stopped at --max-iter before converging");
            }
            if (plot != null) {
                Charts.lines(plot, new Charts.Axes("GMM mode analysis", "components K", "held-out NLL per dimension (nats)", true, false),
                        lines, 1, true);
                System.out.println("plot -> " + plot);
            }
            out.put("seed", seed).put("tol", tol).put("max_iter", maxIter).put("restarts", restarts).put("reg_covar", regCovar);
            Reports.write(json, out);
            return 0;
        }

        private ModeAnalysis.Reduction reduction(CommandLine cmd) {
            int given = (pcaVariance != null ? 1 : 0) + (pcaDims != null ? 1 : 0) + (pca != null ? 1 : 0);
            if (given > 1) {
                throw new CommandLine.ParameterException(cmd, "give one of --pca-variance, --pca-dims and --pca none");
            }
            if (pca != null && !pca.equals("none")) {
                throw new CommandLine.ParameterException(cmd, "--pca takes only 'none' (use --pca-variance or --pca-dims), got '" + pca + "'");
            }
            if (pca != null) {
                return ModeAnalysis.Reduction.none();
            }
            return pcaDims != null ? ModeAnalysis.Reduction.toDimensions(pcaDims)
                    : ModeAnalysis.Reduction.keepVariance(pcaVariance != null ? pcaVariance : 0.9);
        }
    }

    static String name(GaussianMixture.Covariance c) {
        return c.name().toLowerCase(Locale.ROOT);
    }

    // ---- analyze probe ------------------------------------------------------------------------------------

    @Command(name = "probe", mixinStandardHelpOptions = true,
            description = "Linear probe: L2 multinomial logistic regression on standardised latents; accuracy and confusion matrix.")
    static final class Probe implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "LATENTS", description = "A labelled latent store or tensor file (with 'labels').")
        Path latents;

        @Option(names = "--test", paramLabel = "LATENTS", description = "Held-out latents (default: a seeded split).")
        Path test;

        @Option(names = "--pool", defaultValue = "none", paramLabel = "none|mean",
                description = "'mean': average over tokens (or positions), one vector of channels per latent (default: ${DEFAULT-VALUE}).")
        String pool;

        @Option(names = "--c", defaultValue = "1.0", description = "Inverse L2 strength, as scikit-learn's C (default: ${DEFAULT-VALUE}).")
        double c;

        @Option(names = "--max-iter", defaultValue = "100", description = "L-BFGS iterations at most (default: ${DEFAULT-VALUE}, scikit-learn's).")
        int maxIter;

        @Option(names = "--tol", defaultValue = "1e-4",
                description = "Stop when the largest gradient entry of the objective Σ loss + ‖W‖²/(2C) is below this (default: ${DEFAULT-VALUE}, scikit-learn's).")
        double tol;

        @Option(names = "--test-fraction", defaultValue = "0.2", description = "Held-out share without --test (default: ${DEFAULT-VALUE}).")
        double testFraction;

        @Option(names = "--max-rows", defaultValue = "0", paramLabel = "N", description = "Fit on at most N training rows (default: all).")
        int maxRows;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the split (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--plot", paramLabel = "OUT.png", description = "Held-out accuracy per class as bars.")
        Path plot;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Option(names = "--no-progress", description = "No progress bar.")
        boolean noProgress;

        @Override
        public Integer call() {
            CommandLine cmd = spec.commandLine();
            boolean mean = meanPooling(cmd, pool);
            if (plot != null && !plot.toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
                throw new CommandLine.ParameterException(cmd, "--plot must name a .png file, got " + plot);
            }
            if (!(testFraction > 0 && testFraction < 1)) {
                throw new CommandLine.ParameterException(cmd, "--test-fraction must be in (0, 1), got " + testFraction);
            }
            LogisticRegression.Config config;
            try {
                config = new LogisticRegression.Config(c, maxIter, tol);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cmd, e.getMessage());
            }
            LinearProbe.Result r;
            List<String> classNames;
            try (NDManager manager = NDManager.newBaseManager(); LatentSet set = LatentSet.load(latents, manager);
                    LatentSet held = test == null ? null : LatentSet.load(test, manager)) {
                if (!set.labelled()) {
                    throw new IllegalArgumentException(latents + ": no labels; a probe needs a labelled store or a tensor file with 'labels'");
                }
                if (held != null && !held.labelled()) {
                    throw new IllegalArgumentException(test + ": no labels to score the probe on");
                }
                int classes = Math.max(set.classCount(), held == null ? 0 : held.classCount());
                classNames = set.classes();
                Split s = split(set, held, testFraction, seed, mean, maxRows, manager);
                try (Progress progress = new Progress("probe", maxIter, "iter", !noProgress)) {
                    r = LinearProbe.run(s.train(), s.trainLabels(), s.test(), s.testLabels(), classes, config, it -> progress.step(1));
                }
            }
            System.out.printf(Locale.ROOT, "%s: linear probe on %d train / %d test rows, %d features, %d classes, C = %s%n", latents,
                    r.trainRows(), r.testRows(), r.features(), r.classes(), c);
            System.out.printf(Locale.ROOT, "  test accuracy %.4f (train %.4f; chance %.4f); %d L-BFGS iterations%s, %.1f s%n", r.accuracy(),
                    r.trainAccuracy(), majorityShare(r), r.iterations(), r.converged() ? "" : " (NOT converged: raise --max-iter)", r.seconds());
            double[] perClass = r.classAccuracy();
            StringBuilder header = new StringBuilder("  confusion (rows: true, columns: predicted)\n");
            for (int t = 0; t < r.classes(); t++) {
                String label = t < classNames.size() ? classNames.get(t) : Integer.toString(t);
                header.append(String.format(Locale.ROOT, "  %-20.20s", label));
                for (long v : r.confusion().counts()[t]) {
                    header.append(String.format(Locale.ROOT, " %6d", v));
                }
                header.append(String.format(Locale.ROOT, "   %s%n", Double.isNaN(perClass[t]) ? "-" : String.format(Locale.ROOT, "%.3f", perClass[t])));
            }
            System.out.print(header);
            if (plot != null) {
                List<String> labels = new ArrayList<>();
                for (int t = 0; t < r.classes(); t++) {
                    labels.add(t < classNames.size() ? classNames.get(t) : Integer.toString(t));
                }
                // classes without held-out rows have no accuracy and get no bar
                if (Charts.bars(plot, new Charts.Axes(String.format(Locale.ROOT, "%s: linear probe, held-out accuracy %.3f (chance %.3f)",
                        latents.getFileName(), r.accuracy(), majorityShare(r)), "class", "held-out accuracy", false, false),
                        "held-out accuracy", labels, perClass)) {
                    System.out.println("plot -> " + plot);
                }
            }
            ObjectNode o = Reports.object().put("latents", latents.toString()).put("accuracy", r.accuracy())
                    .put("train_accuracy", r.trainAccuracy()).put("train_rows", r.trainRows()).put("test_rows", r.testRows())
                    .put("features", r.features()).put("classes", r.classes()).put("c", c).put("pool", pool)
                    .put("iterations", r.iterations()).put("converged", r.converged()).put("seconds", r.seconds()).put("seed", seed);
            ArrayNode conf = o.putArray("confusion");
            for (long[] row : r.confusion().counts()) {
                ArrayNode a = conf.addArray();
                Arrays.stream(row).forEach(a::add);
            }
            ArrayNode names = o.putArray("class_names");
            classNames.forEach(names::add);
            Reports.write(json, o);
            return 0;
        }

        /** The accuracy of always answering the most frequent test class. */
        private static double majorityShare(LinearProbe.Result r) {
            long best = 0;
            for (long[] row : r.confusion().counts()) {
                best = Math.max(best, Arrays.stream(row).sum());
            }
            return (double) best / r.testRows();
        }
    }

    // ---- analyze smoothness -------------------------------------------------------------------------------

    @Command(name = "smoothness", mixinStandardHelpOptions = true,
            description = "Decoded PSNR/SSIM against latent noise σ (z + σ·ε·std, VMAE's robustness test) and interpolation strips, as PNG.")
    static final class SmoothnessCommand implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(arity = "1..*", paramLabel = "MODEL", description = "Checkpoint folders; several give one line each.")
        List<String> models;

        @Option(names = "--data", required = true, paramLabel = "SOURCE", description = "A bundled dataset, a folder of images, a tensor file or a CIFAR folder.")
        String data;

        @Option(names = "--images", defaultValue = "64", paramLabel = "N", description = "Images scored, chosen with the seed (default: ${DEFAULT-VALUE}).")
        int images;

        @Option(names = "--sigmas", defaultValue = "0,0.05,0.1,0.2,0.3,0.5,1", paramLabel = "S,...",
                description = "Noise levels, in units of the latents' per-channel std (default: ${DEFAULT-VALUE}).")
        String sigmas;

        @Option(names = "--stats", paramLabel = "STORE|stats.json",
                description = "Per-channel std from a latent cache, once per MODEL in order (default: the std of the scored images' latents).")
        List<Path> stats = new ArrayList<>();

        @Option(names = "--pairs", defaultValue = "4", description = "Interpolated image pairs (default: ${DEFAULT-VALUE}).")
        int pairs;

        @Option(names = "--steps", defaultValue = "8", description = "Frames per interpolation, ends included (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the image choice, the pairs and the noise (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for smoothness.png, interpolation-*.png and smoothness.json.")
        Path out;

        @Option(names = "--batch-size", defaultValue = "16", description = "Images per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Option(names = "--no-progress", description = "No progress bar.")
        boolean noProgress;

        @Override
        public Integer call() {
            CommandLine cmd = spec.commandLine();
            double[] levels = parseDoubles(cmd, "--sigmas", sigmas).stream().mapToDouble(Double::doubleValue).toArray();
            if (images < 2 || batchSize < 1 || pairs < 0 || steps < 2) {
                throw new CommandLine.ParameterException(cmd, "need --images ≥ 2, --batch-size ≥ 1, --pairs ≥ 0 and --steps ≥ 2");
            }
            if (!stats.isEmpty() && stats.size() != models.size()) {
                throw new CommandLine.ParameterException(cmd, "--stats must be given once per MODEL (" + models.size() + "), got " + stats.size());
            }
            Dataset dataset = DataCommand.open(data, false, 0);
            if (dataset.size() < 2) {
                throw new IllegalArgumentException(data + ": needs at least 2 images, has " + dataset.size());
            }
            int[] rows = images >= dataset.size() ? allRows(dataset.size())
                    : DataLoader.split(dataset.size(), (double) images / dataset.size(), seed)[1];
            java.util.SplittableRandom pick = new java.util.SplittableRandom(seed);
            int[][] pairRows = new int[pairs][];
            for (int p = 0; p < pairs; p++) {
                int a = rows[pick.nextInt(rows.length)];
                int b = rows[pick.nextInt(rows.length - 1)];
                pairRows[p] = new int[] {a, b == a ? rows[rows.length - 1] : b};
            }
            ObjectNode o = Reports.object().put("data", data).put("images", rows.length).put("seed", seed).put("steps", steps);
            ArrayNode results = o.putArray("results");
            List<Charts.Series> psnrLines = new ArrayList<>();
            long work = (long) rows.length * models.size();
            try (NDManager manager = NDManager.newBaseManager(); Progress progress = new Progress("smoothness", work, "img", !noProgress)) {
                for (int m = 0; m < models.size(); m++) {
                    String model = models.get(m);
                    try (NDManager scope = manager.newSubManager(); Tokenizer tokenizer = Tokenizers.open(model, scope)) {
                        NDArray x = ImageTensors.load(dataset, rows, tokenizer.imageSize(), scope); // [n, 3, S, S]
                        double[] std = stats.isEmpty() ? channelStd(tokenizer, x, batchSize) : LatentCache.statsOf(stats.get(m)).channelStd();
                        List<Smoothness.Point> points = Smoothness.noiseSweep(tokenizer, x, levels, std, seed, batchSize, progress::step);
                        List<NDArray> strips = new ArrayList<>();
                        double[] ratios = new double[pairs];
                        for (int p = 0; p < pairs; p++) {
                            NDArray a = ImageTensors.load(dataset, new int[] {pairRows[p][0]}, tokenizer.imageSize(), scope);
                            NDArray b = ImageTensors.load(dataset, new int[] {pairRows[p][1]}, tokenizer.imageSize(), scope);
                            Smoothness.Interpolation in = Smoothness.interpolate(tokenizer, a, b, steps);
                            ratios[p] = in.pathRatio();
                            strips.add(a.concat(in.frames()).concat(b)); // [steps + 2, 3, S, S]
                        }
                        String tag = label(model);
                        Path stripFile = out.resolve("interpolation-" + (models.size() > 1 ? (m + 1) + "-" : "") + tag + ".png");
                        if (pairs > 0) {
                            java.nio.file.Files.createDirectories(out);
                            ImageGrid.writePng(ImageGrid.tile(strips, Math.max(1, 64 / tokenizer.imageSize())), stripFile);
                        }
                        double meanRatio = Arrays.stream(ratios).average().orElse(Double.NaN);
                        ObjectNode r = results.addObject().put("model", model)
                                .put("std_source", stats.isEmpty() ? "scored images" : stats.get(m).toString())
                                .put("interpolation_path_ratio", meanRatio);
                        if (pairs > 0) {
                            r.put("interpolation_png", stripFile.toString());
                        }
                        ArrayNode curve = r.putArray("noise");
                        System.out.printf(Locale.ROOT, "%s on %d images of %s:%n  %8s %10s %8s %18s%n", model, rows.length, data, "sigma",
                                "PSNR (dB)", "SSIM", "PSNR to clean (dB)");
                        for (Smoothness.Point p : points) {
                            ObjectNode q = curve.addObject().put("sigma", p.sigma()).put("psnr", p.psnr()).put("ssim", p.ssim());
                            if (Double.isFinite(p.psnrToClean())) {
                                q.put("psnr_to_clean", p.psnrToClean());
                            } else {
                                q.putNull("psnr_to_clean");
                            }
                            q.put("ssim_to_clean", p.ssimToClean());
                            System.out.printf(Locale.ROOT, "  %8.3f %10.3f %8.4f %18s%n", p.sigma(), p.psnr(), p.ssim(),
                                    Double.isFinite(p.psnrToClean()) ? String.format(Locale.ROOT, "%.3f", p.psnrToClean()) : "exact");
                        }
                        if (pairs > 0) {
                            System.out.printf(Locale.ROOT, "  interpolation path ratio %.3f over %d pair(s) (1 = straight) -> %s%n", meanRatio, pairs, stripFile);
                        }
                        psnrLines.add(new Charts.Series(tag, levels, points.stream().mapToDouble(Smoothness.Point::psnr).toArray()));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(out + ": cannot create: " + e.getMessage(), e);
                    }
                }
            }
            Path png = out.resolve("smoothness.png");
            Charts.lines(png, new Charts.Axes("Decoded PSNR under latent noise z + σ·ε·std", "σ (latent std units)", "PSNR (dB)", false, false),
                    psnrLines, 1, true);
            System.out.println("plot -> " + png);
            Reports.write(out.resolve("smoothness.json"), o);
            Reports.write(json, o);
            return 0;
        }

        /** A short name for a model: its folder, with the run folder in front when it is a run's "tokenizer". */
        static String label(String model) {
            Path p = Path.of(model).normalize();
            String name = p.getFileName().toString();
            return name.equals("tokenizer") && p.getParent() != null && p.getParent().getFileName() != null
                    ? p.getParent().getFileName() + "-" + name : name;
        }

        /** The per-channel std of the scored images' own latents. */
        private static double[] channelStd(Tokenizer tokenizer, NDArray x, int batchSize) {
            var s = new maetok4j.latents.LatentStatistics(tokenizer.latentShape(), tokenizer.latentChannelAxis());
            Batches.run("latent std", (int) x.getShape().get(0), batchSize, false, x.getManager(), (first, count, scope) -> {
                NDArray b = x.get(first + ":" + (first + count));
                b.attach(scope);
                s.add(tokenizer.encode(b));
            });
            return s.summary().channelStd();
        }
    }

    // ---- analyze scatter ----------------------------------------------------------------------------------

    @Command(name = "scatter", mixinStandardHelpOptions = true,
            description = "A 2D scatter of latents (first two principal components), coloured by class, as PNG.")
    static final class Scatter implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "LATENTS", description = "A latent store or tensor file.")
        Path latents;

        @Option(names = "--out", required = true, paramLabel = "OUT.png", description = "The PNG to write.")
        Path out;

        @Option(names = "--pool", defaultValue = "none", paramLabel = "none|mean", description = "'mean': average over tokens first (default: ${DEFAULT-VALUE}).")
        String pool;

        @Option(names = "--max-points", defaultValue = "5000", paramLabel = "N", description = "Plot at most N points, chosen with the seed (default: ${DEFAULT-VALUE}).")
        int maxPoints;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the subsample (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write a summary as JSON to FILE.")
        Path json;

        @Override
        public Integer call() {
            CommandLine cmd = spec.commandLine();
            boolean mean = meanPooling(cmd, pool);
            if (maxPoints < 2) {
                throw new CommandLine.ParameterException(cmd, "--max-points must be at least 2, got " + maxPoints);
            }
            if (!out.toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
                throw new CommandLine.ParameterException(cmd, "--out must name a .png file, got " + out);
            }
            double[] ratio;
            int points;
            try (NDManager manager = NDManager.newBaseManager(); LatentSet set = LatentSet.load(latents, manager)) {
                if (set.size() < 3) {
                    throw new IllegalArgumentException(latents + ": a scatter needs at least 3 latents, has " + set.size());
                }
                NDArray x = features(set, mean, manager);
                int[] rows = capped(allRows(set.size()), maxPoints, seed);
                NDArray shown = LatentSet.rows(x, rows, manager);
                Pca.Accumulator acc = new Pca.Accumulator((int) x.getShape().get(1));
                acc.add(x);
                Pca pca = acc.fit(2);
                ratio = pca.explainedVarianceRatio();
                double[] xy = pca.transform(shown.toType(ai.djl.ndarray.types.DataType.FLOAT64, false), 2).toDoubleArray();
                Map<Long, List<Integer>> byLabel = new LinkedHashMap<>();
                long[] labels = set.labelled() ? set.labels(rows) : new long[rows.length];
                for (int i = 0; i < rows.length; i++) {
                    byLabel.computeIfAbsent(labels[i], k -> new ArrayList<>()).add(i);
                }
                List<Charts.Series> groups = new ArrayList<>();
                new java.util.TreeMap<>(byLabel).forEach((label, idx) -> {
                    String name = !set.labelled() ? "latents" : label < set.classes().size() ? set.classes().get((int) (long) label) : "class " + label;
                    groups.add(new Charts.Series(name, idx.stream().mapToDouble(i -> xy[2 * i]).toArray(),
                            idx.stream().mapToDouble(i -> xy[2 * i + 1]).toArray()));
                });
                points = rows.length;
                Charts.scatter(out, new Charts.Axes(latents.getFileName() + ": first two principal components",
                        String.format(Locale.ROOT, "PC1 (%.1f%% of the variance)", 100 * ratio[0]),
                        String.format(Locale.ROOT, "PC2 (%.1f%%)", 100 * ratio[1]), false, false), groups, points > 2000 ? 3 : 5);
            }
            System.out.printf(Locale.ROOT, "%s: %d points, PC1 %.2f%% and PC2 %.2f%% of the variance -> %s%n", latents, points,
                    100 * ratio[0], 100 * ratio[1], out);
            ObjectNode o = Reports.object().put("latents", latents.toString()).put("points", points).put("png", out.toString())
                    .put("pc1_variance_ratio", ratio[0]).put("pc2_variance_ratio", ratio[1]);
            Reports.write(json, o);
            return 0;
        }
    }

    // ---- analyze gmm-bench --------------------------------------------------------------------------------

    @Command(name = "gmm-bench", mixinStandardHelpOptions = true,
            description = "GMM fit time (medians) and held-out NLL on seeded synthetic data; --write-npy gives bench/gmm_sklearn.py the same rows.")
    static final class GmmBench implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--rows", defaultValue = "50000", description = "Training rows (default: ${DEFAULT-VALUE}).")
        int rows;

        @Option(names = "--held-out", defaultValue = "10000", description = "Held-out rows (default: ${DEFAULT-VALUE}).")
        int heldOut;

        @Option(names = "--dim", defaultValue = "256", description = "Dimensions (default: ${DEFAULT-VALUE}).")
        int dim;

        @Option(names = "--clusters", defaultValue = "64", description = "Components of the generating mixture (default: ${DEFAULT-VALUE}).")
        int clusters;

        @Option(names = "--k", defaultValue = "10,50,100", split = ",", description = "Component counts fitted (default: ${DEFAULT-VALUE}).")
        List<Integer> ks;

        @Option(names = "--covariance", defaultValue = "diag,full", split = ",", description = "Covariance types (default: ${DEFAULT-VALUE}).")
        List<String> covariances;

        @Option(names = "--repeats", defaultValue = "3", description = "Fits per setting, seeds seed..seed+repeats-1 (default: ${DEFAULT-VALUE}).")
        int repeats;

        @Option(names = "--max-iter", defaultValue = "100", description = "EM iterations at most (default: ${DEFAULT-VALUE}).")
        int maxIter;

        @Option(names = "--seed", defaultValue = "0", description = "First fit seed (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--write-npy", paramLabel = "DIR", description = "Also write train.npy and held-out.npy (float64) for bench/gmm_sklearn.py.")
        Path npy;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write every fit as JSON to FILE.")
        Path json;

        @Override
        public Integer call() throws Exception {
            CommandLine cmd = spec.commandLine();
            if (rows < 2 || heldOut < 1 || dim < 1 || clusters < 1 || repeats < 1 || maxIter < 1) {
                throw new CommandLine.ParameterException(cmd, "--rows ≥ 2, --held-out, --dim, --clusters, --repeats and --max-iter ≥ 1");
            }
            List<GaussianMixture.Covariance> types;
            try {
                types = covariances.stream().map(GaussianMixture.Covariance::parse).toList();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cmd, e.getMessage());
            }
            double[] train = GmmBenchmark.mixtureRows(rows, dim, clusters, 0, 1);
            double[] test = GmmBenchmark.mixtureRows(heldOut, dim, clusters, 0, 2);
            if (npy != null) {
                java.nio.file.Files.createDirectories(npy);
                GmmBenchmark.writeNpy(npy.resolve("train.npy"), train, dim);
                GmmBenchmark.writeNpy(npy.resolve("held-out.npy"), test, dim);
            }
            ObjectNode out = Reports.object().put("rows", rows).put("held_out", heldOut).put("dim", dim).put("clusters", clusters)
                    .put("max_iter", maxIter);
            ArrayNode fits = out.putArray("fits");
            System.out.printf(Locale.ROOT, "GMM fits on %d x %d rows (%d held out) from a %d-component mixture; medians of %d%n", rows, dim,
                    heldOut, clusters, repeats);
            System.out.printf(Locale.ROOT, "  %-6s %5s %10s %8s %18s%n", "cov", "K", "seconds", "iters", "held-out NLL/dim");
            try (NDManager manager = NDManager.newBaseManager()) {
                NDArray x = maetok4j.tensor.OwnedArrays.of(manager, train, new ai.djl.ndarray.types.Shape(rows, dim));
                NDArray y = maetok4j.tensor.OwnedArrays.of(manager, test, new ai.djl.ndarray.types.Shape(heldOut, dim));
                for (GaussianMixture.Covariance c : types) {
                    for (int k : ks) {
                        List<GmmBenchmark.Result> runs = new ArrayList<>();
                        for (int r = 0; r < repeats; r++) {
                            GmmBenchmark.Result res = GmmBenchmark.run(x, y, List.of(k), List.of(c), seed + r, maxIter).get(0);
                            runs.add(res);
                            fits.addObject().put("k", k).put("covariance", name(c)).put("seed", seed + r).put("seconds", res.seconds())
                                    .put("iterations", res.iterations()).put("converged", res.converged())
                                    .put("heldout_nll_per_dim", res.heldOutNllPerDimension());
                        }
                        double[] secs = runs.stream().mapToDouble(GmmBenchmark.Result::seconds).sorted().toArray();
                        double[] nll = runs.stream().mapToDouble(GmmBenchmark.Result::heldOutNllPerDimension).sorted().toArray();
                        int[] its = runs.stream().mapToInt(GmmBenchmark.Result::iterations).sorted().toArray();
                        System.out.printf(Locale.ROOT, "  %-6s %5d %10.2f %8d %18.5f%n", name(c), k, secs[secs.length / 2], its[its.length / 2],
                                nll[nll.length / 2]);
                    }
                }
            }
            Reports.write(json, out);
            return 0;
        }
    }

}
