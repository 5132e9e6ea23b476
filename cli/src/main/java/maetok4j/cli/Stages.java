package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import maetok4j.report.Provenance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The stages {@code maetok demo} and {@code maetok study} both run, as data: each is one {@code maetok} command line
 * with the files it makes, and the config and seed a report names for it. All work on the bundled emoji at 32 px.
 */
final class Stages {

    static final String DATA = "emoji-noto-64";
    static final int IMAGE_SIZE = 32;
    /** The diffusion preset (SiT for 2 cores) and the tokenizer preset of the demo. */
    static final String CPU = "cpu";
    /** Samples drawn for the generation metrics (100 per category), and in a smoke run. */
    static final int SAMPLES = 900;
    static final int SMOKE_SAMPLES = 18;

    private Stages() {}

    static List<String> args(List<String> base, List<String> extra) {
        List<String> a = new ArrayList<>(base);
        a.addAll(extra);
        return a;
    }

    static Pipeline.Stage classifierStage(Path classifier, Path json, boolean smoke) {
        return new Pipeline.Stage("train-classifier", "the emoji domain classifier whose features give FD",
                args(List.of("eval", "train-features", "--data", DATA, "--image-size", Integer.toString(IMAGE_SIZE), "--seed", "0",
                        "--out", classifier.toString(), "--json", json.toString()), smoke ? List.of("--epochs", "1") : List.of()),
                List.of(classifier.resolve("config.json"), json), classifier, List.of(), "the command line (defaults of eval train-features)",
                "0 (--seed: split, weights and data order)");
    }

    static Pipeline.Stage referenceStage(Path classifier, Path npz) {
        return new Pipeline.Stage("reference-stats", "feature statistics of the real emoji, for the samples' FD",
                List.of("eval", "stats", DATA, "--features", classifier.toString(), "--image-size", Integer.toString(IMAGE_SIZE), "--seed", "0",
                        "--out", npz.toString()),
                List.of(npz), null, List.of(), "the command line (every image of " + DATA + ")", "0 (--seed; unused with all images)");
    }

    static Pipeline.Stage cacheStage(String name, Path tokenizer, Path store, Path json) {
        return new Pipeline.Stage(name, "every emoji and its mirror encoded into a latent store",
                List.of("cache-latents", tokenizer.toString(), "--data", DATA, "--out", store.toString(), "--flip", "--json", json.toString()),
                List.of(store.resolve("store.json"), json), store, List.of(), "the command line", "none (no random choice)");
    }

    static Pipeline.Stage gmmStage(List<Path> stores, Path png, Path json, boolean smoke) {
        List<String> a = new ArrayList<>(List.of("analyze", "gmm"));
        stores.forEach(p -> a.add(p.toString()));
        a.addAll(smoke ? List.of("--k", "1,2,5", "--max-iter", "10") : List.of("--k", "1,2,5,10,25,50", "--restarts", "3"));
        a.addAll(List.of("--covariance", "diag", "--pca-dims", "32", "--seed", "0", "--plot", png.toString(), "--json", json.toString()));
        return new Pipeline.Stage("gmm", "Gaussian mixtures for each K: held-out NLL per dimension", a, List.of(png, json), null, List.of(),
                "the command line (PCA to 32 dimensions, standardised, diagonal covariances)", "0 (--seed: split and EM initialisation)");
    }

    /** The probe, with its per-class bar chart when {@code png} is not null. */
    static Pipeline.Stage probeStage(String name, Path store, Path json, Path png, boolean smoke) {
        List<String> a = new ArrayList<>(List.of("analyze", "probe", store.toString()));
        a.addAll(smoke ? List.of("--max-iter", "20") : List.of("--max-iter", "2000", "--tol", "1e-6"));
        a.addAll(List.of("--seed", "0", "--json", json.toString()));
        List<Path> outputs = new ArrayList<>(List.of(json));
        if (png != null) {
            a.addAll(List.of("--plot", png.toString()));
            outputs.add(png);
        }
        return new Pipeline.Stage(name, "linear probe: logistic regression from latents to the 9 categories", a, outputs, null,
                List.of(), "the command line (C = 1, standardised flattened latents, 80/20 split of image groups)", "0 (--seed: the split)");
    }

    static Pipeline.Stage diffusionStage(String name, Path store, Path run, List<String> steps) {
        return new Pipeline.Stage(name, "SiT (cpu preset) trained on the cached latents",
                args(List.of("train-diffusion", "--preset", CPU, "--latents", store.toString(), "--out", run.toString()), steps),
                List.of(run.resolve("model/config.json"), run.resolve("summary.json")), run, List.of("--resume"),
                "diffusion preset " + CPU + " (saved as " + run.resolve("config.yaml") + ")",
                "global_seed of the preset (recorded in " + run.resolve("config.yaml") + ")");
    }

    static Pipeline.Stage sampleStage(String name, String title, Path model, Path tokenizer, String cfg, Path dir, boolean smoke) {
        int n = smoke ? SMOKE_SAMPLES : SAMPLES;
        return new Pipeline.Stage(name, title + " (" + n + ", labels cycling through the classes)",
                args(List.of("sample", "--diffusion", model.toString(), "--tokenizer", tokenizer.toString(), "--eval", Integer.toString(n),
                        "--cfg", cfg, "--interval", "0,1", "--seed", "0", "--out", dir.toString()), smoke ? List.of("--steps", "2") : List.of()),
                List.of(dir.resolve("grid.png"), dir.resolve("labels.safetensors"), dir.resolve("sample.json")), dir, List.of(),
                "the command line (Euler ODE sampler" + (smoke ? ", 2 steps" : ", 50 steps") + ")", "0 (--seed: each sample's noise)");
    }

    static Pipeline.Stage evalSamplesStage(String name, Path samples, Path reference, Path classifier, Path json) {
        return new Pipeline.Stage(name, "FD of the samples and the classifier's accuracy on their labels",
                List.of("eval", "samples", samples.resolve("images").toString(), "--labels", samples.resolve("labels.safetensors").toString(),
                        "--ref", reference.toString(), "--features", classifier.toString(), "--seed", "0", "--json", json.toString()),
                List.of(json), null, List.of(), "the command line", "0 (--seed: KID's subsets, unused against stored statistics)");
    }

    /** The diffusion stage's provenance with the seed its run recorded (the trainer's config.yaml), when it is there. */
    static Provenance diffusionProvenance(Pipeline.Stage stage, Path run) {
        Path config = run.resolve("config.yaml");
        try {
            JsonNode yaml = new ObjectMapper(new YAMLFactory()).readTree(config.toFile());
            if (yaml != null && yaml.path("global_seed").isIntegralNumber()) {
                return new Provenance(stage.command(), stage.config(), yaml.path("global_seed").asLong() + " (global_seed, " + config + ")");
            }
        } catch (IOException e) {
            // not run yet, or unreadable: the stage's own description of the seed stands
        }
        return stage.provenance();
    }

    /** The PNG files of a folder, sorted by name (none when it does not exist). */
    static List<Path> pngs(Path folder) {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".png")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot list: " + e.getMessage(), e);
        }
    }
}
