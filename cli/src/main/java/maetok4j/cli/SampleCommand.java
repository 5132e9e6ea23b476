package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.ImageFiles;
import maetok4j.data.ImageGrid;
import maetok4j.data.ImageTensors;
import maetok4j.diffusion.DiffusionCheckpoint;
import maetok4j.diffusion.Generator;
import maetok4j.diffusion.Guidance;
import maetok4j.diffusion.PathType;
import maetok4j.diffusion.Sampler;
import maetok4j.diffusion.SiT;
import maetok4j.diffusion.SiTConfig;
import maetok4j.latents.LatentNormalization;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.SafetensorsWriter;
import maetok4j.tensor.TensorFileException;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** Class-conditional samples from a diffusion model, decoded by its tokenizer. */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sample latents from a diffusion model (Euler/Heun ODE or Euler-Maruyama SDE, classifier-free guidance or",
                "autoguidance) and decode them with the tokenizer: a PNG grid (a row per class), the images folder and a tensor file."})
final class SampleCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--diffusion", required = true, paramLabel = "D", description = "A diffusion model folder (config.json, model.safetensors[, latents.json]).")
    Path diffusion;

    @Option(names = "--tokenizer", paramLabel = "T", description = "The tokenizer that decodes the latents (default: the one latents.json names).")
    String tokenizerName;

    @Option(names = "--classes", split = ",", paramLabel = "C", description = "Class labels to sample, --n of each (default: every class).")
    long[] classes;

    @Option(names = "--labels", paramLabel = "FILE", description = "A safetensors file with 'labels' [B] (int64): one sample per label.")
    Path labelsFile;

    @Option(names = "--n", paramLabel = "N", description = "Samples per class (default: 8).")
    Integer perClass;

    @Option(names = "--eval", paramLabel = "N", description = "N samples with labels cycling through the classes, as PNGs for the metrics commands.")
    Integer evalCount;

    @Option(names = "--noise", paramLabel = "FILE", description = "A safetensors file with 'noise' [B, ...] and 'labels' [B]: the start of every sample.")
    Path noiseFile;

    @Option(names = "--sampler", defaultValue = "euler", paramLabel = "KIND", description = "euler, heun or sde (default: ${DEFAULT-VALUE}).")
    String samplerName;

    @Option(names = "--steps", defaultValue = "50", paramLabel = "S", description = "Sampler steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--cfg", defaultValue = "1", paramLabel = "W", description = "Guidance scale; 1 is none (default: ${DEFAULT-VALUE}).")
    double cfg;

    @Option(names = "--interval", defaultValue = "0,1", paramLabel = "LOW,HIGH", description = "Guide only while LOW ≤ t ≤ HIGH (default: ${DEFAULT-VALUE}).")
    String interval;

    @Option(names = "--guide-model", paramLabel = "D2",
            description = "Autoguidance: guide by this weaker diffusion model (an earlier checkpoint or a smaller model) with scale --cfg, instead of the null label.")
    Path guideModel;

    @Option(names = "--path", defaultValue = "linear", paramLabel = "PATH", description = "The path the model was trained on, for the SDE: linear or cosine (default: ${DEFAULT-VALUE}).")
    String pathName;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "K", description = "Seeds the noise, sample by sample (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Where grid.png, images/ and samples.safetensors go.")
    Path out;

    @Option(names = "--save-latents", paramLabel = "FILE", description = "Also write the final latents (key 'latents', with 'labels'), as the tokenizer decodes them.")
    Path saveLatents;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "B", description = "Samples per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the summary as JSON to FILE.")
    Path json;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Override
    public Integer call() {
        validate();
        Sampler.Kind kind = parse(() -> Sampler.Kind.parse(samplerName));
        PathType path = parse(() -> PathType.parse(pathName));
        double[] lowHigh = parse(this::parseInterval);
        try (NDManager manager = NDManager.newBaseManager(); SiT model = SiT.load(diffusion, manager)) {
            SiTConfig config = model.config();
            long[] latentShape = model.latentShape();
            DiffusionCheckpoint.Latents recorded = DiffusionCheckpoint.readLatents(diffusion);
            LatentNormalization normalization = recorded == null ? null : recorded.normalization();
            try (SiT guide = guideModel == null ? null : loadGuide(model, recorded, manager);
                    Tokenizer tokenizer = openTokenizer(recorded, manager)) {
                Guidance guidance = guide == null ? new Guidance(cfg, lowHigh[0], lowHigh[1])
                        : Guidance.autoguidance(cfg, lowHigh[0], lowHigh[1], guide);
                Sampler sampler = parse(() -> new Sampler(kind, steps, guidance, path));
                NDArray noise = null;
                long[] labels;
                if (noiseFile != null) {
                    try (Safetensors file = Safetensors.open(noiseFile)) {
                        require(file, "noise");
                        require(file, "labels");
                        noise = file.readAs("noise", manager, DataType.FLOAT32);
                        labels = file.readAs("labels", manager, DataType.INT64).toLongArray();
                    }
                } else if (labelsFile != null) {
                    try (Safetensors file = Safetensors.open(labelsFile)) {
                        require(file, "labels");
                        labels = file.readAs("labels", manager, DataType.INT64).toLongArray();
                    }
                } else {
                    labels = labels(config.numClasses());
                }
                for (long l : labels) {
                    if (l < 0 || l >= config.numClasses()) {
                        throw new IllegalArgumentException((labelsFile != null ? labelsFile : noiseFile != null ? noiseFile : "--classes")
                                + ": label " + l + " outside the model's " + config.numClasses() + " classes");
                    }
                }
                Generator generator = new Generator(model, latentShape, normalization, tokenizer, sampler);
                return generate(generator, labels, noise, tokenizer, recorded, manager);
            }
        }
    }

    private int generate(Generator generator, long[] labels, NDArray noise, Tokenizer tokenizer, DiffusionCheckpoint.Latents recorded,
            NDManager manager) {
        int n = labels.length;
        long[] latentShape = generator.latentShape();
        Path imagesDir = out == null || tokenizer == null ? null : out.resolve("images");
        // 50k PNGs for the metrics are fine; the same images as one float32 tensor may not be
        Path tensorFile = out == null || tokenizer == null || evalCount != null ? null : out.resolve("samples.safetensors");
        Path latentsFile = saveLatents != null ? saveLatents : out != null && tokenizer == null ? out.resolve("latents.safetensors") : null;
        try {
            if (out != null) {
                Files.createDirectories(imagesDir != null ? imagesDir : out);
            }
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(out + ": cannot create folder: " + e.getMessage());
        }
        Map<String, String> metadata = Map.of("format", "pt", "diffusion", diffusion.toString(), "seed", Long.toString(seed));
        SafetensorsWriter images = null;
        SafetensorsWriter latents = null;
        Map<Long, List<NDArray>> grid = new LinkedHashMap<>(); // a row per class, in order of first appearance
        long start = System.nanoTime();
        int batches = (n + batchSize - 1) / batchSize;
        try (NDManager keep = manager.newSubManager();
                Progress bar = new Progress("sample", (long) batches * generator.sampler().steps(), "step", !noProgress)) {
            if (tensorFile != null) {
                int side = tokenizer.imageSize();
                images = SafetensorsWriter.create(tensorFile, Map.of("images", new SafetensorsWriter.Spec(DataType.FLOAT32, n, 3, side, side),
                        "labels", new SafetensorsWriter.Spec(DataType.INT64, n)), metadata);
            }
            if (latentsFile != null) {
                long[] dims = new long[latentShape.length + 1];
                dims[0] = n;
                System.arraycopy(latentShape, 0, dims, 1, latentShape.length);
                latents = SafetensorsWriter.create(latentsFile, Map.of("latents", new SafetensorsWriter.Spec(DataType.FLOAT32, dims),
                        "labels", new SafetensorsWriter.Spec(DataType.INT64, n)), metadata);
            }
            SafetensorsWriter imageWriter = images;
            SafetensorsWriter latentWriter = latents;
            int perRow = 16;
            generator.run(labels, noise, seed, batchSize, manager, batch -> {
                NDArray y = OwnedArrays.of(batch.latents().getManager(), batch.labels());
                if (latentWriter != null) {
                    latentWriter.write("latents", batch.first(), batch.latents());
                    latentWriter.write("labels", batch.first(), y);
                }
                if (batch.images() == null) {
                    return;
                }
                if (imageWriter != null) {
                    imageWriter.write("images", batch.first(), batch.images());
                    imageWriter.write("labels", batch.first(), y);
                }
                List<BufferedImage> pngs = ImageTensors.toImages(batch.images());
                for (int i = 0; i < pngs.size(); i++) {
                    ImageFiles.writePng(pngs.get(i), imagesDir.resolve(String.format(Locale.ROOT, "%06d.png", batch.first() + i)));
                    List<NDArray> row = grid.computeIfAbsent(batch.labels()[i], k -> new ArrayList<>());
                    if (row.size() < perRow && grid.size() <= 64) {
                        NDArray image = batch.images().get(i + ":" + (i + 1)); // [1, 3, S, S]
                        image.attach(keep);
                        row.add(image);
                    }
                }
            }, s -> bar.step(1));
            if (latents != null) {
                latents.commit();
            }
            if (images != null) {
                images.commit();
            }
            if (out != null) {
                // the labels the samples were drawn for, beside the PNGs, for eval samples --labels
                Safetensors.write(out.resolve("labels.safetensors"), Map.of("labels", OwnedArrays.of(keep, labels)), metadata);
            }
            if (!grid.isEmpty() && out != null) {
                List<NDArray> rows = new ArrayList<>();
                grid.values().forEach(row -> rows.add(NDArrays.concat(new NDList(row.toArray(NDArray[]::new))))); // [k, 3, S, S]
                ImageGrid.writePng(ImageGrid.tile(rows, Math.max(1, 64 / tokenizer.imageSize())), out.resolve("grid.png"));
            }
        } finally {
            if (images != null) {
                images.close();
            }
            if (latents != null) {
                latents.close();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "sampled %d %s (%s) in %.1f s (%.2f per second)%s%n", n, tokenizer != null ? "image(s)" : "latent(s)",
                generator.sampler(), seconds, n / seconds, out != null ? " -> " + out : "");
        if (tokenizer == null && out != null) {
            System.out.println("  no tokenizer (pass --tokenizer): latents only, in " + latentsFile);
        } else if (latentsFile != null) {
            System.out.println("  latents: " + latentsFile);
        }
        ObjectNode o = Reports.object().put("diffusion", diffusion.toString()).put("tokenizer", tokenizer == null ? null : tokenizerSource(recorded))
                .put("samples", n).put("sampler", samplerName.toLowerCase(Locale.ROOT)).put("steps", steps).put("cfg", cfg)
                .put("interval", interval).put("guide_model", guideModel == null ? null : guideModel.toString())
                .put("guidance", generator.sampler().guidance().toString()).put("seed", seed)
                .put("seconds", seconds).put("samples_per_second", n / seconds);
        if (latentsFile != null) {
            o.put("latents", latentsFile.toString());
        }
        if (out != null) {
            o.put("out", out.toString());
            if (imagesDir != null) {
                o.put("images", imagesDir.toString());
            }
            Reports.write(out.resolve("sample.json"), o);
        }
        Reports.write(json, o);
        return 0;
    }

    /** Usage errors: combinations that cannot mean anything. */
    private void validate() {
        int sources = (classes != null ? 1 : 0) + (labelsFile != null ? 1 : 0) + (noiseFile != null ? 1 : 0) + (evalCount != null ? 1 : 0);
        if (sources > 1) {
            usage("--classes, --labels, --noise and --eval each choose the labels; give at most one");
        }
        if (perClass != null && (labelsFile != null || noiseFile != null || evalCount != null)) {
            usage("--n counts samples per class; with --labels, --noise or --eval the labels decide the count");
        }
        if (perClass != null && perClass < 1) {
            usage("--n must be at least 1, got " + perClass);
        }
        if (evalCount != null && evalCount < 1) {
            usage("--eval must be at least 1, got " + evalCount);
        }
        if (evalCount != null && out == null) {
            usage("--eval writes images: give --out");
        }
        if (out == null && saveLatents == null) {
            usage("nothing to write: give --out, --save-latents or both");
        }
        if (batchSize < 1) {
            usage("--batch-size must be at least 1, got " + batchSize);
        }
        if (steps < 1) {
            usage("--steps must be at least 1, got " + steps);
        }
        if (guideModel != null && !(cfg > 1)) {
            usage("--guide-model needs --cfg above 1 (the autoguidance scale)");
        }
    }

    private long[] labels(int numClasses) {
        if (evalCount != null) {
            long[] y = new long[evalCount];
            for (int i = 0; i < y.length; i++) {
                y[i] = i % numClasses;
            }
            return y;
        }
        long[] chosen = classes;
        if (chosen == null) {
            chosen = new long[numClasses];
            for (int c = 0; c < numClasses; c++) {
                chosen[c] = c;
            }
        }
        int k = perClass == null ? 8 : perClass;
        long[] y = new long[chosen.length * k];
        for (int c = 0; c < chosen.length; c++) {
            Arrays.fill(y, c * k, (c + 1) * k, chosen[c]);
        }
        return y;
    }

    private double[] parseInterval() {
        String[] parts = interval.split(",");
        if (parts.length != 2) {
            throw new IllegalArgumentException("--interval must be LOW,HIGH, got '" + interval + "'");
        }
        try {
            return new double[] {Double.parseDouble(parts[0].trim()), Double.parseDouble(parts[1].trim())};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--interval must be two numbers LOW,HIGH, got '" + interval + "'");
        }
    }

    /** The guide must take the same latents and labels as the model it guides. */
    private SiT loadGuide(SiT model, DiffusionCheckpoint.Latents recorded, NDManager manager) {
        SiT guide = SiT.load(guideModel, manager);
        if (!Arrays.equals(guide.latentShape(), model.latentShape()) || guide.config().numClasses() != model.config().numClasses()) {
            long[] s = guide.latentShape();
            guide.close();
            throw new IllegalArgumentException(guideModel + ": the guide model takes latents " + Arrays.toString(s) + " with "
                    + "its own classes; it must match " + diffusion + " (" + Arrays.toString(model.latentShape()) + ", "
                    + model.config().numClasses() + " classes)");
        }
        DiffusionCheckpoint.Latents b = DiffusionCheckpoint.readLatents(guideModel);
        if (recorded != null && b != null && !recorded.normalization().equals(b.normalization())) {
            guide.close();
            throw new IllegalArgumentException(guideModel + ": latents.json has another latent normalisation than " + diffusion
                    + "'s; the guide must be trained on the same latents");
        }
        return guide;
    }

    /** --tokenizer, else the tokenizer latents.json records if it is still there, else none (latents only). */
    private Tokenizer openTokenizer(DiffusionCheckpoint.Latents recorded, NDManager manager) {
        String source = tokenizerSource(recorded);
        if (source == null || out == null) { // without --out only latents are written: nothing to decode
            return null;
        }
        if (tokenizerName == null && !Files.isDirectory(Path.of(source))) {
            System.err.println("note: " + diffusion.resolve(DiffusionCheckpoint.LATENTS) + " names the tokenizer " + source
                    + ", which is not there; pass --tokenizer to decode");
            return null;
        }
        return Tokenizers.open(source, manager);
    }

    private String tokenizerSource(DiffusionCheckpoint.Latents recorded) {
        if (tokenizerName != null) {
            return tokenizerName;
        }
        return recorded == null ? null : recorded.tokenizer();
    }

    private static void require(Safetensors file, String key) {
        if (!file.contains(key)) {
            throw new TensorFileException(file.file() + ": no tensor '" + key + "' (has: " + String.join(", ", file.tensors().keySet()) + ")");
        }
    }

    private <T> T parse(java.util.function.Supplier<T> f) {
        try {
            return f.get();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    private void usage(String message) {
        throw new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
