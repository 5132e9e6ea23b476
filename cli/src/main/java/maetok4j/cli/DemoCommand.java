package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.report.Block;
import maetok4j.report.Provenance;
import maetok4j.report.Report;
import maetok4j.training.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code maetok demo}: the whole chain on the bundled emoji, from tokenizer training to a report. Each stage is an
 * ordinary {@code maetok} command ({@link #stages}), so the report can name the command behind every number.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The end-to-end job on the bundled emoji, with no download. It trains the cpu MAETok (mask modelling, then decoder"
                + " fine-tuning), evaluates reconstruction against the PCA codec, analyses the latent space (GMM NLL against K, linear"
                + " probe, scatter), caches latents, trains the cpu SiT on them, samples a class-conditional grid with and without"
                + " guidance, and writes DIR/report.md and a self-contained DIR/report.html. Under 30 minutes on 2 cores.",
                "Each stage is one maetok command (--list shows them), so the report names the command, config and seed behind every"
                + " number; a re-run reuses the stages that finished.",
                "  maetok demo            then open runs/demo/report.html",
                "  maetok demo --smoke    a few steps per stage: checks the chain in minutes",
                ""})
final class DemoCommand extends PipelineCommand {

    static final String PRESET = Stages.CPU;
    /** Guidance scale of the guided grid; the other grid has none (1). */
    static final String GUIDED_CFG = "3";

    @Option(names = "--out", defaultValue = "runs/demo", paramLabel = "DIR", description = "Where everything goes (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    Path out() {
        return out;
    }

    /** The folders and files of a demo in {@code dir}. */
    record Layout(Path dir) {
        Path stage1() { return dir.resolve("maetok-stage1"); }
        Path stage2() { return dir.resolve("maetok-stage2"); }
        Path tokenizer() { return stage2().resolve("tokenizer"); }
        Path classifier() { return dir.resolve("classifier"); }
        Path eval() { return dir.resolve("eval"); }
        Path latents() { return dir.resolve("latents"); }
        Path analysis() { return dir.resolve("analysis"); }
        Path diffusion() { return dir.resolve("diffusion"); }
        Path samples(String kind) { return dir.resolve("samples").resolve(kind); }
    }

    @Override
    List<Pipeline.Stage> stages() {
        return stages(out, smoke);
    }

    /** The demo as data: its stages and their command lines, for {@code dir}. */
    static List<Pipeline.Stage> stages(Path dir, boolean smoke) {
        Layout l = new Layout(dir);
        TrainConfig preset = TrainConfig.preset(PRESET);
        String tokenizerSeed = preset.run().globalSeed() + " (global_seed of the preset)";
        List<String> steps = smoke ? List.of("--steps", "2") : List.of();
        List<Pipeline.Stage> s = new ArrayList<>();
        s.add(new Pipeline.Stage("train-tokenizer", "MAETok stage 1: mask modelling with HOG and pixel targets",
                Stages.args(List.of("train", "--preset", PRESET, "--out", l.stage1().toString()), steps),
                List.of(l.stage1().resolve("tokenizer/config.json"), l.stage1().resolve("summary.json")), l.stage1(), List.of("--resume"),
                "preset " + PRESET + " (saved as " + l.stage1().resolve("train.yaml") + ")", tokenizerSeed));
        s.add(new Pipeline.Stage("finetune-decoder", "MAETok stage 2: decoder fine-tuning on the frozen encoder",
                Stages.args(List.of("finetune-decoder", "--preset", PRESET, "--from", l.stage1().toString(), "--out", l.stage2().toString()), steps),
                List.of(l.tokenizer().resolve("config.json"), l.stage2().resolve("summary.json")), l.stage2(), List.of("--resume"),
                "preset " + PRESET + ", its finetune_* keys (saved as " + l.stage2().resolve("finetune-decoder.yaml") + ")", tokenizerSeed));
        s.add(Stages.classifierStage(l.classifier(), l.eval().resolve("classifier.json"), smoke));
        s.add(Stages.referenceStage(l.classifier(), l.eval().resolve("emoji-ref.npz")));
        s.add(new Pipeline.Stage("eval-recon", "reconstruction of the held-out images, with the PCA codec",
                List.of("eval", "recon", l.tokenizer().toString(), "--data", Stages.DATA, "--val-images", Integer.toString(preset.data().valImages()),
                        "--seed", Long.toString(preset.run().globalSeed()), "--features", l.classifier().toString(),
                        "--json", l.eval().resolve("recon.json").toString()),
                List.of(l.eval().resolve("recon.json")), null, List.of(),
                "the command line (the trainer's held-out split: val_images and global_seed of the preset)",
                preset.run().globalSeed() + " (--seed: the held-out split and KID's subsets)"));
        s.add(Stages.cacheStage("cache-latents", l.tokenizer(), l.latents(), l.analysis().resolve("cache.json")));
        s.add(Stages.gmmStage(List.of(l.latents()), l.analysis().resolve("gmm.png"), l.analysis().resolve("gmm.json"), smoke));
        s.add(Stages.probeStage("probe", l.latents(), l.analysis().resolve("probe.json"), l.analysis().resolve("probe.png"), smoke));
        s.add(new Pipeline.Stage("scatter", "the latents' first two principal components",
                List.of("analyze", "scatter", l.latents().toString(), "--seed", "0", "--out", l.analysis().resolve("scatter.png").toString(),
                        "--json", l.analysis().resolve("scatter.json").toString()),
                List.of(l.analysis().resolve("scatter.png"), l.analysis().resolve("scatter.json")), null, List.of(), "the command line",
                "0 (--seed: the subsample of points)"));
        s.add(Stages.diffusionStage("train-diffusion", l.latents(), l.diffusion(), smoke ? List.of("--steps", "2") : List.of()));
        s.add(Stages.sampleStage("sample-plain", "samples without guidance", l.diffusion().resolve("model"), l.tokenizer(), "1", l.samples("plain"),
                smoke));
        s.add(Stages.sampleStage("sample-guided", "samples with classifier-free guidance", l.diffusion().resolve("model"), l.tokenizer(), GUIDED_CFG,
                l.samples("guided"), smoke));
        s.add(Stages.evalSamplesStage("eval-samples-plain", l.samples("plain"), l.eval().resolve("emoji-ref.npz"), l.classifier(),
                l.eval().resolve("samples-plain.json")));
        s.add(Stages.evalSamplesStage("eval-samples-guided", l.samples("guided"), l.eval().resolve("emoji-ref.npz"), l.classifier(),
                l.eval().resolve("samples-guided.json")));
        return s;
    }

    // ---- the report ----------------------------------------------------------------------------------------

    @Override
    Map<String, Path> products(Pipeline p) {
        Layout l = new Layout(out);
        Map<String, Path> m = new LinkedHashMap<>();
        put(m, p, "finetune-decoder", "tokenizer", l.tokenizer());
        put(m, p, "cache-latents", "latents", l.latents());
        put(m, p, "train-diffusion", "diffusion model", l.diffusion().resolve("model"));
        put(m, p, "sample-plain", "samples, no guidance", l.samples("plain").resolve("grid.png"));
        put(m, p, "sample-guided", "samples, guidance " + GUIDED_CFG, l.samples("guided").resolve("grid.png"));
        return m;
    }

    static void put(Map<String, Path> m, Pipeline p, String stage, String label, Path path) {
        if (p.finished(p.stage(stage))) {
            m.put(label, path);
        }
    }

    @Override
    Report report(Pipeline p, Context c) {
        return new DemoReport(p, new Layout(out), c).build();
    }

    /** Reads the stages' outputs into the report; a section appears when the stages behind it have finished. */
    static final class DemoReport {
        private final Pipeline p;
        private final Layout l;
        private final Context c;

        DemoReport(Pipeline p, Layout l, Context c) {
            this.p = p;
            this.l = l;
            this.c = c;
        }

        boolean done(String... stages) {
            for (String s : stages) {
                if (!p.finished(p.stage(s))) {
                    return false;
                }
            }
            return true;
        }

        List<Provenance> by(String... stages) {
            List<Provenance> out = new ArrayList<>();
            for (String s : stages) {
                out.add(p.stage(s).provenance());
            }
            return out;
        }

        Report build() {
            List<Report.Section> sections = new ArrayList<>();
            if (done("train-tokenizer", "finetune-decoder")) {
                sections.add(training());
            }
            if (done("train-tokenizer", "finetune-decoder", "train-classifier", "eval-recon")) {
                sections.add(reconstruction());
            }
            if (done("cache-latents")) {
                sections.add(latentSpace());
            }
            if (done("train-diffusion")) {
                sections.add(diffusion());
            }
            if (done("train-classifier", "reference-stats", "sample-plain", "sample-guided", "eval-samples-plain", "eval-samples-guided")) {
                sections.add(samples());
            }
            sections.add(PipelineCommand.stagesSection(p, c));
            return new Report("maetok demo: MAETok and latent diffusion on the bundled emoji", PipelineCommand.preamble(p, c,
                    "What the MAETok paper does, at the scale of 2 CPU cores: a tokenizer trained with mask modelling (stage 1) and"
                            + " decoder fine-tuning (stage 2) on the 1,906 bundled Noto emoji at 32 px, its reconstructions against a"
                            + " PCA codec with as many latent floats, the shape of its latent space, and a class-conditional diffusion model"
                            + " (SiT) trained on its latents. Seed 0 everywhere."), sections);
        }

        Report.Section training() {
            List<Provenance> made = by("train-tokenizer", "finetune-decoder");
            Path f1 = l.stage1().resolve("summary.json");
            Path f2 = l.stage2().resolve("summary.json");
            JsonNode s1 = json(f1);
            JsonNode s2 = json(f2);
            List<List<String>> rows = new ArrayList<>();
            rows.add(trainRow("stage 1: mask modelling (40–60% of patches), HOG + pixel targets", s1, f1));
            rows.add(trainRow("stage 2: decoder fine-tuning, mask ratio 60% → 0", s2, f2));
            rows.add(List.of("PCA codec with as many latent floats, fitted on the training split", "", "", "", "",
                    f(s2.path("pca_val_psnr"), 2) + " dB", f(s2.path("pca_val_ssim"), 3)));
            List<Block> b = new ArrayList<>();
            TrainConfig preset = TrainConfig.preset(PRESET);
            b.add(new Block.Table("Training of the `cpu` MAETok. Held-out: the preset's " + preset.data().valImages() + " emoji split off with"
                    + " global_seed " + preset.run().globalSeed() + ", at " + Stages.IMAGE_SIZE + " px (PSNR of 8-bit reconstructions, data range 1;"
                    + " SSIM 7×7).",
                    List.of("stage", "steps", "wall time", "img/s", "peak RSS", "held-out PSNR", "held-out SSIM"), rows, made));
            String none = "(The run logged fewer than two points, so its trainer drew no curve; a --smoke run does.)";
            b.add(figureOrNote(l.stage1().resolve("plots/loss.png"), "Stage 1 training losses against the step.", by("train-tokenizer"),
                    "No stage-1 loss curve. " + none));
            b.add(figureOrNote(l.stage2().resolve("plots/loss.png"), "Stage 2 (decoder fine-tuning) losses against the step.",
                    by("finetune-decoder"), "No stage-2 loss curve. " + none));
            b.add(figureOrNote(l.stage1().resolve("plots/val_psnr.png"), "Stage 1 held-out PSNR against the step, with the PCA codec's.",
                    by("train-tokenizer"), "No held-out PSNR curve for stage 1. " + none));
            return new Report.Section("Tokenizer training", b);
        }

        private static List<String> trainRow(String label, JsonNode s, Path file) {
            return List.of(label, count((long) number(s, "steps", file)), Durations.format(number(s, "seconds", file)),
                    f(s.path("images_per_second"), 0), f(s.path("peak_rss_bytes").asDouble(Double.NaN) / 1e9, 2) + " GB",
                    f(s.path("val_psnr"), 2) + " dB", f(s.path("val_ssim"), 3));
        }

        Report.Section reconstruction() {
            Path file = l.eval().resolve("recon.json");
            JsonNode r = json(file);
            JsonNode pca = r.path("pca_baseline");
            long floats = 1;
            List<String> shape = new ArrayList<>();
            for (JsonNode d : r.path("latents").path("shape")) {
                floats *= d.asLong();
                shape.add(d.asText());
            }
            String net = r.path("feature_network").asText("the domain classifier");
            List<List<String>> rows = List.of(
                    List.of("MAETok `cpu`, stage 2", count(floats) + " ([" + String.join(", ", shape) + "])",
                            f(number(r, "psnr", file), 2) + " dB", f(number(r, "ssim", file), 3), f(r.path("rfd"), 2)),
                    List.of("PCA codec, " + pca.path("components").asInt() + " components fitted on " + count(r.path("train_images").asLong())
                            + " training images", count(pca.path("components").asLong()), f(pca.path("psnr"), 2) + " dB", f(pca.path("ssim"), 3),
                            f(pca.path("rfd"), 2)));
            List<Block> b = new ArrayList<>();
            b.add(new Block.Table("Reconstruction of " + count(r.path("images").asLong()) + " held-out emoji (the trainer's split) at "
                    + r.path("image_size").asInt() + " px by the stage-2 tokenizer and by the PCA codec. rFD: the Fréchet distance of the"
                    + " reconstructions' features under the " + net + ", an FD rather than an rFID.",
                    List.of("codec", "latent floats", "PSNR", "SSIM", "rFD"), rows, by("eval-recon")));
            List<String> notes = new ArrayList<>();
            r.path("reconstruction_distribution").path("notes").forEach(n -> notes.add(n.asText()));
            Path clfFile = l.eval().resolve("classifier.json");
            JsonNode clf = json(clfFile);
            b.add(new Block.Table("The domain classifier behind rFD and the samples' FD.", List.of("held-out accuracy", "chance (majority class)",
                    "epochs", "training images"), List.of(List.of(f(number(clf, "val_accuracy", clfFile), 3), f(clf.path("chance_accuracy"), 3),
                    clf.path("epochs").asText(), count(clf.path("train_images").asLong()))), by("train-classifier")));
            if (!notes.isEmpty()) {
                b.add(new Block.Bullets(notes.stream().map(n -> "Note from `eval recon`: " + n).toList()));
            }
            b.add(figureOrNote(l.stage1().resolve("plots/reconstructions.png"),
                    "Held-out emoji (top) and their stage-1 reconstructions (bottom).", by("train-tokenizer"),
                    "No stage-1 reconstruction grid."));
            b.add(figureOrNote(l.stage2().resolve("plots/reconstructions.png"),
                    "The same emoji (top) and their reconstructions after decoder fine-tuning (bottom).", by("finetune-decoder"),
                    "No stage-2 reconstruction grid."));
            return new Report.Section("Reconstruction", b);
        }

        Report.Section latentSpace() {
            List<Block> b = new ArrayList<>();
            if (done("gmm")) {
                Path file = l.analysis().resolve("gmm.json");
                JsonNode g = json(file);
                JsonNode set = g.path("sets").path(0);
                List<List<String>> rows = new ArrayList<>();
                for (JsonNode r : g.path("results")) {
                    rows.add(List.of(r.path("k").asText(), f(number(r, "nll_per_dim", file), 4), f(r.path("train_nll_per_dim"), 4),
                            f(r.path("bic"), 0), r.path("iterations").asText() + (r.path("converged").asBoolean() ? "" : " (not converged)")));
                }
                List<Provenance> made = by("gmm");
                b.add(new Block.Table(String.format(Locale.ROOT, "Gaussian mixtures of the latents: %s train / %s held-out rows (an image and"
                        + " its mirror on the same side), %d dimensions reduced by PCA to %d (%.1f%% of the variance), standardised, diagonal"
                        + " covariances. Lower held-out NLL with fewer components means fewer, better separated modes.",
                        count(set.path("train_rows").asLong()), count(set.path("test_rows").asLong()), set.path("input_dim").asInt(),
                        set.path("dim").asInt(), 100 * set.path("explained_variance").asDouble()),
                        List.of("K", "held-out NLL/dim (nats)", "train NLL/dim", "BIC", "EM iterations"), rows, made));
                b.add(new Block.Figure(l.analysis().resolve("gmm.png"), "Held-out NLL per dimension against the number of components K.", made));
            }
            if (done("probe")) {
                Path file = l.analysis().resolve("probe.json");
                JsonNode r = json(file);
                long majority = 0;
                long total = 0;
                for (JsonNode row : r.path("confusion")) {
                    long sum = 0;
                    for (JsonNode v : row) {
                        sum += v.asLong();
                    }
                    majority = Math.max(majority, sum);
                    total += sum;
                }
                b.add(new Block.Table("Linear probe: multinomial logistic regression (L2, C = 1) from the standardised flattened latents to"
                        + " the 9 emoji categories, trained on 80% of the image groups and scored on the rest.",
                        List.of("held-out accuracy", "train accuracy", "majority-class share", "features", "L-BFGS iterations"),
                        List.of(List.of(f(number(r, "accuracy", file), 3), f(r.path("train_accuracy"), 3),
                                total == 0 ? "–" : f((double) majority / total, 3), r.path("features").asText(),
                                r.path("iterations").asText() + (r.path("converged").asBoolean() ? "" : " (not converged)"))),
                        by("probe")));
                b.add(new Block.Figure(l.analysis().resolve("probe.png"), "The probe's held-out accuracy per category.", by("probe")));
            }
            if (done("scatter")) {
                JsonNode s = json(l.analysis().resolve("scatter.json"));
                b.add(new Block.Figure(l.analysis().resolve("scatter.png"), String.format(Locale.ROOT,
                        "The latents' first two principal components (%.1f%% and %.1f%% of the variance), coloured by category.",
                        100 * s.path("pc1_variance_ratio").asDouble(), 100 * s.path("pc2_variance_ratio").asDouble()),
                        by("scatter")));
            }
            if (b.isEmpty()) {
                b.add(new Block.Paragraph("The latents are cached in `" + l.latents() + "`; no analysis has run yet."));
            }
            return new Report.Section("Latent space", b);
        }

        Report.Section diffusion() {
            Path file = l.diffusion().resolve("summary.json");
            JsonNode s = json(file);
            List<Provenance> made = List.of(Stages.diffusionProvenance(p.stage("train-diffusion"), l.diffusion()));
            List<Block> b = new ArrayList<>();
            b.add(new Block.Table("SiT trained on the cached latents: the last logged training loss and the loss on held-out latents"
                    + " (velocity MSE, fixed times and noise).", List.of("steps", "wall time", "training loss", "held-out loss"),
                    List.of(List.of(count((long) number(s, "steps", file)), Durations.format(s.path("seconds").asDouble(Double.NaN)),
                            f(number(s, "loss", file), 4), s.has("val_loss") ? f(s.path("val_loss"), 4) : "not measured")), made));
            List<Path> plots = Stages.pngs(l.diffusion().resolve("plots"));
            for (Path png : plots) {
                b.add(new Block.Figure(png, "Diffusion training: `" + png.getFileName() + "` against the step.", made));
            }
            if (plots.isEmpty()) {
                b.add(new Block.Paragraph("No diffusion loss curve: the run logged fewer than two points (a --smoke run does)."));
            }
            return new Report.Section("Diffusion", b);
        }

        Report.Section samples() {
            List<Block> b = new ArrayList<>();
            List<List<String>> rows = new ArrayList<>();
            for (String kind : List.of("plain", "guided")) {
                Path sampleFile = l.samples(kind).resolve("sample.json");
                JsonNode s = json(sampleFile);
                Path evalFile = l.eval().resolve("samples-" + kind + ".json");
                JsonNode e = json(evalFile);
                rows.add(List.of(kind.equals("plain") ? "none" : "classifier-free", f(number(s, "cfg", sampleFile), 1), s.path("interval").asText(),
                        s.path("sampler").asText() + ", " + s.path("steps").asText() + " steps", count(s.path("samples").asLong()),
                        f(e.path("gfd"), 2), f(number(e, "classifier_accuracy", evalFile), 3)));
            }
            b.add(new Block.Table("Samples drawn for labels cycling through the 9 categories, against every real emoji: gFD under the emoji"
                    + " classifier (not InceptionV3), and how often the classifier names the category a sample was drawn for.",
                    List.of("guidance", "scale", "interval", "sampler", "samples", "gFD", "classifier accuracy"), rows,
                    samplesMadeBy("plain", "guided")));
            b.add(new Block.Figure(l.samples("plain").resolve("grid.png"), "Samples without guidance: a row per category.",
                    by("sample-plain")));
            b.add(new Block.Figure(l.samples("guided").resolve("grid.png"), "Samples with classifier-free guidance (scale " + GUIDED_CFG
                    + "): a row per category, the same noise as above.", by("sample-guided")));
            return new Report.Section("Samples", b);
        }

        private List<Provenance> samplesMadeBy(String... kinds) {
            List<Provenance> out = new ArrayList<>();
            for (String k : kinds) {
                out.addAll(by("sample-" + k, "eval-samples-" + k));
            }
            return out;
        }
    }
}
