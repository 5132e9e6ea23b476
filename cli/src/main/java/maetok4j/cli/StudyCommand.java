package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.plot.Charts;
import maetok4j.report.Block;
import maetok4j.report.Provenance;
import maetok4j.report.Report;
import maetok4j.training.TrainConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code maetok study}: the papers' comparison of tokenizers at small scale, every model with the same data, the same
 * number of steps and the same downstream stages, in one table. The stages are ordinary commands ({@link #stages}).
 */
@Command(name = "study", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The MAETok and VMAE papers' comparison at small scale, with equal budgets, on the bundled emoji: plain AE, VAE,"
                + " AE + mask modelling (pixel target), MAETok (mask modelling with HOG and pixel targets), MAETok + decoder fine-tuning,"
                + " and VMAE. For each it measures held-out PSNR, SSIM and rFD, linear-probe accuracy, the GMM NLL curve, the diffusion"
                + " loss at a fixed step, and the FD and domain-classifier accuracy of generated samples; DIR/report.md and DIR/report.html"
                + " hold one table, the plots, and what the numbers show.",
                "--budget small trains every tokenizer for its preset's steps and every SiT for " + StudyCommand.DIFFUSION_SMALL
                        + " steps, the cpu preset's schedule (about 75 minutes on 2 cores); medium for 3 times as many. Each stage is one maetok command (--list shows"
                        + " them); a re-run reuses the stages that finished.",
                "  maetok study --budget small",
                "  maetok study --smoke           a few steps per stage: checks the chain",
                ""})
final class StudyCommand extends PipelineCommand {

    static final long DIFFUSION_SMALL = 600;
    /** The budget multiplier of medium over small, for every trainer. */
    static final int MEDIUM = 3;

    @Option(names = "--budget", defaultValue = "small", paramLabel = "small|medium",
            description = "small: the presets' steps; medium: 3 times as many (default: ${DEFAULT-VALUE}).")
    String budget;

    @Option(names = "--out", paramLabel = "DIR", description = "Where everything goes (default: runs/study-BUDGET).")
    Path out;

    /**
     * A tokenizer of the study.
     *
     * @param id stage and folder name
     * @param from the model whose encoder (so latents and diffusion model) this one shares, for decoder fine-tuning; else null
     */
    record Model(String id, String label, String preset, String from, String recipe) {
        boolean ownEncoder() {
            return from == null;
        }

        /** The model whose latents, probe, GMM and diffusion model this one uses. */
        String encoder() {
            return from == null ? id : from;
        }
    }

    static final List<Model> MODELS = List.of(
            new Model("ae", "plain AE", "ae-cpu", null, "VMAE architecture, deterministic latent, no masking, no KL"),
            new Model("vae", "VAE", "vae-cpu", null, "VMAE architecture, KL to N(0, I) with weight 1e-4, no masking"),
            new Model("ae-mm", "AE + mask modelling", "ae-mm-cpu", null,
                    "the plain AE with 25% of the patch tokens dropped before the encoder; target: the image's pixels"),
            new Model("maetok", "MAETok", "cpu", null,
                    "MAETok architecture, 40–60% of the patches masked; auxiliary decoders predict the masked patches' HOG features and pixels"),
            new Model("maetok-ft", "MAETok + decoder fine-tuning", "cpu", "maetok",
                    "MAETok's encoder frozen, its pixel decoder fine-tuned while the mask ratio falls from 60% to 0"),
            new Model("vmae", "VMAE", "vmae-cpu", null, "VMAE: 25% token dropping and a KL toward a fixed std (1e-3, weight 1e-6)"));

    @Override
    Path out() {
        return out != null ? out : Path.of("runs", "study-" + budget);
    }

    @Override
    List<Pipeline.Stage> stages() {
        if (!budget.equals("small") && !budget.equals("medium")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--budget must be small or medium, got '" + budget + "'");
        }
        return stages(out(), budget, smoke);
    }

    /** The folders and files of a study in {@code dir}. */
    record Layout(Path dir) {
        Path model(String id) { return dir.resolve(id); }
        Path run(String id) { return model(id).resolve("run"); }
        Path tokenizer(String id) { return run(id).resolve("tokenizer"); }
        Path store(String id) { return dir.resolve("latents").resolve(id); }
        Path diffusion(String id) { return model(id).resolve("diffusion"); }
        Path samples(String id) { return model(id).resolve("samples"); }
        Path classifier() { return dir.resolve("classifier"); }
        Path reference() { return dir.resolve("emoji-ref.npz"); }
        Path plots() { return dir.resolve("plots"); }
    }

    /** The study as data: its stages and their command lines, for {@code dir}. */
    static List<Pipeline.Stage> stages(Path dir, String budget, boolean smoke) {
        Layout l = new Layout(dir);
        int factor = budget.equals("medium") ? MEDIUM : 1;
        List<Pipeline.Stage> s = new ArrayList<>();
        s.add(Stages.classifierStage(l.classifier(), dir.resolve("classifier.json"), smoke));
        s.add(Stages.referenceStage(l.classifier(), l.reference()));
        for (Model m : MODELS) {
            TrainConfig config = TrainConfig.preset(m.preset());
            String seed = config.run().globalSeed() + " (global_seed of the preset)";
            if (m.ownEncoder()) {
                s.add(new Pipeline.Stage("train-" + m.id(), m.label() + ": " + m.recipe(),
                        Stages.args(List.of("train", "--preset", m.preset(), "--out", l.run(m.id()).toString()),
                                steps(smoke, factor, config.run().maxSteps())),
                        List.of(l.tokenizer(m.id()).resolve("config.json"), l.run(m.id()).resolve("summary.json")), l.run(m.id()),
                        List.of("--resume"), "preset " + m.preset() + " (saved as " + l.run(m.id()).resolve("train.yaml") + ")", seed));
            } else {
                s.add(new Pipeline.Stage("train-" + m.id(), m.label() + ": " + m.recipe(),
                        Stages.args(List.of("finetune-decoder", "--preset", m.preset(), "--from", l.run(m.from()).toString(), "--out",
                                l.run(m.id()).toString()), steps(smoke, factor, config.forFinetune().run().maxSteps())),
                        List.of(l.tokenizer(m.id()).resolve("config.json"), l.run(m.id()).resolve("summary.json")), l.run(m.id()),
                        List.of("--resume"), "preset " + m.preset() + ", its finetune_* keys (saved as "
                                + l.run(m.id()).resolve("finetune-decoder.yaml") + ")", seed));
            }
            s.add(new Pipeline.Stage("recon-" + m.id(), "reconstruction of the held-out emoji by " + m.label(),
                    List.of("eval", "recon", l.tokenizer(m.id()).toString(), "--data", Stages.DATA, "--val-images",
                            Integer.toString(config.data().valImages()), "--seed", Long.toString(config.run().globalSeed()), "--features",
                            l.classifier().toString(), "--no-pca", "--json", l.model(m.id()).resolve("recon.json").toString()),
                    List.of(l.model(m.id()).resolve("recon.json")), null, List.of(),
                    "the command line (the trainer's held-out split: val_images and global_seed of the preset)",
                    config.run().globalSeed() + " (--seed: the held-out split and KID's subsets)"));
            if (m.ownEncoder()) {
                s.add(Stages.cacheStage("cache-" + m.id(), l.tokenizer(m.id()), l.store(m.id()), l.model(m.id()).resolve("cache.json")));
                s.add(Stages.probeStage("probe-" + m.id(), l.store(m.id()), l.model(m.id()).resolve("probe.json"), null, smoke));
            }
        }
        s.add(Stages.gmmStage(MODELS.stream().filter(Model::ownEncoder).map(m -> l.store(m.id())).toList(), l.dir().resolve("gmm.png"),
                l.dir().resolve("gmm.json"), smoke));
        long diffusionSteps = diffusionSteps(budget, smoke);
        for (Model m : MODELS) {
            if (m.ownEncoder()) {
                s.add(Stages.diffusionStage("diffusion-" + m.id(), l.store(m.id()), l.diffusion(m.id()),
                        List.of("--steps", Long.toString(diffusionSteps))));
            }
        }
        for (Model m : MODELS) {
            s.add(Stages.sampleStage("sample-" + m.id(), "samples of " + m.label() + ", no guidance",
                    l.diffusion(m.encoder()).resolve("model"), l.tokenizer(m.id()), "1", l.samples(m.id()), smoke));
            s.add(Stages.evalSamplesStage("eval-samples-" + m.id(), l.samples(m.id()), l.reference(), l.classifier(),
                    l.model(m.id()).resolve("samples.json")));
        }
        return s;
    }

    /** The steps of every diffusion model: explicit and equal, so that the loss is compared at one step. */
    static long diffusionSteps(String budget, boolean smoke) {
        return smoke ? 2 : DIFFUSION_SMALL * (budget.equals("medium") ? MEDIUM : 1);
    }

    /** No --steps for the small budget (the preset's), MEDIUM times them for medium, 2 for a smoke run. */
    private static List<String> steps(boolean smoke, int factor, Long presetSteps) {
        if (smoke) {
            return List.of("--steps", "2");
        }
        if (factor == 1) {
            return List.of();
        }
        if (presetSteps == null) {
            throw new IllegalStateException("a study preset must set max_steps (and finetune_max_steps) to be scaled");
        }
        return List.of("--steps", Long.toString(presetSteps * factor));
    }

    // ---- the report ----------------------------------------------------------------------------------------

    @Override
    Map<String, Path> products(Pipeline p) {
        Layout l = new Layout(out());
        Map<String, Path> m = new LinkedHashMap<>();
        for (Model model : MODELS) {
            DemoCommand.put(m, p, "train-" + model.id(), model.id() + " tokenizer", l.tokenizer(model.id()));
        }
        for (Model model : MODELS) {
            if (model.ownEncoder()) {
                DemoCommand.put(m, p, "diffusion-" + model.id(), model.id() + " diffusion model", l.diffusion(model.id()).resolve("model"));
            }
        }
        return m;
    }

    @Override
    Report report(Pipeline p, Context c) {
        return new StudyReport(p, new Layout(out()), c, budget, diffusionSteps(budget, smoke)).build();
    }

    /** One row of the table: the numbers of one model, NaN where its stage has not run. */
    record Row(Model model, String latent, long floats, double psnr, double ssim, double rfd, double probe, Map<Integer, Double> nll,
            double diffusionLoss, double diffusionValLoss, double gfd, double accuracy) {}

    /** Which way is better, and how a column's value prints. */
    record Column(String header, Function<Row, Double> value, boolean higherIsBetter, int digits, boolean perEncoder) {}

    static final class StudyReport {
        private final Pipeline p;
        private final Layout l;
        private final Context c;
        private final String budget;
        private final long diffusionSteps;

        StudyReport(Pipeline p, Layout l, Context c, String budget, long diffusionSteps) {
            this.p = p;
            this.l = l;
            this.c = c;
            this.budget = budget;
            this.diffusionSteps = diffusionSteps;
        }

        boolean done(String stage) {
            return p.finished(p.stage(stage));
        }

        Report build() {
            List<Block> pre = new ArrayList<>(PipelineCommand.preamble(p, c, "The comparison of the MAETok and VMAE papers at the scale of"
                    + " 2 CPU cores: six tokenizers trained on the 1,906 bundled emoji at 32 px with the same data and their presets' steps"
                    + " (budget `" + budget + "`), each then measured the same way: held-out reconstruction, a linear probe and Gaussian"
                    + " mixtures on its latents, a SiT diffusion model trained for the same number of steps on them, and samples of that"
                    + " model. Seed 0 everywhere; one run per model."));
            List<Row> rows = rows();
            List<Report.Section> sections = new ArrayList<>();
            sections.add(models(rows));
            sections.add(table(rows));
            sections.add(whatItShows(rows));
            sections.add(plots());
            sections.add(PipelineCommand.stagesSection(p, c));
            return new Report("maetok study: tokenizers compared at equal budgets (" + budget + ")", pre, sections);
        }

        // ---- numbers ----

        List<Row> rows() {
            JsonNode gmm = done("gmm") ? json(l.dir().resolve("gmm.json")) : null;
            List<Row> rows = new ArrayList<>();
            for (Model m : MODELS) {
                String latent = "";
                long floats = 0;
                double psnr = Double.NaN;
                double ssim = Double.NaN;
                double rfd = Double.NaN;
                if (done("recon-" + m.id())) {
                    Path file = l.model(m.id()).resolve("recon.json");
                    JsonNode r = json(file);
                    psnr = number(r, "psnr", file);
                    ssim = number(r, "ssim", file);
                    rfd = r.path("rfd").asDouble(Double.NaN);
                    List<String> dims = new ArrayList<>();
                    floats = 1;
                    for (JsonNode d : r.path("latents").path("shape")) {
                        dims.add(d.asText());
                        floats *= d.asLong();
                    }
                    latent = "[" + String.join(", ", dims) + "]";
                }
                String enc = m.encoder();
                double probe = Double.NaN;
                if (done("probe-" + enc)) {
                    Path file = l.model(enc).resolve("probe.json");
                    probe = number(json(file), "accuracy", file);
                }
                Map<Integer, Double> nll = new LinkedHashMap<>();
                if (gmm != null) {
                    String store = l.store(enc).toString();
                    for (JsonNode r : gmm.path("results")) {
                        if (r.path("latents").asText().equals(store)) {
                            nll.put(r.path("k").asInt(), r.path("nll_per_dim").asDouble(Double.NaN));
                        }
                    }
                }
                double loss = Double.NaN;
                double valLoss = Double.NaN;
                if (done("diffusion-" + enc)) {
                    Path file = l.diffusion(enc).resolve("summary.json");
                    JsonNode s = json(file);
                    loss = number(s, "loss", file);
                    valLoss = s.path("val_loss").asDouble(Double.NaN);
                }
                double gfd = Double.NaN;
                double accuracy = Double.NaN;
                if (done("eval-samples-" + m.id())) {
                    Path file = l.model(m.id()).resolve("samples.json");
                    JsonNode e = json(file);
                    gfd = e.path("gfd").asDouble(Double.NaN);
                    accuracy = number(e, "classifier_accuracy", file);
                }
                rows.add(new Row(m, latent, floats, psnr, ssim, rfd, probe, nll, loss, valLoss, gfd, accuracy));
            }
            return rows;
        }

        /** The two K values the table shows: the middle and the largest fitted. */
        static List<Integer> tableKs(List<Row> rows) {
            List<Integer> ks = rows.stream().flatMap(r -> r.nll().keySet().stream()).distinct().sorted().toList();
            if (ks.isEmpty()) {
                return List.of();
            }
            int mid = ks.contains(10) ? 10 : ks.get(ks.size() / 2);
            return mid == ks.get(ks.size() - 1) ? List.of(mid) : List.of(mid, ks.get(ks.size() - 1));
        }

        static List<Column> columns(List<Row> rows, long diffusionSteps) {
            List<Column> cols = new ArrayList<>();
            cols.add(new Column("PSNR (dB)", Row::psnr, true, 2, false));
            cols.add(new Column("SSIM", Row::ssim, true, 3, false));
            cols.add(new Column("rFD", Row::rfd, false, 2, false));
            cols.add(new Column("probe accuracy", Row::probe, true, 3, true));
            for (int k : tableKs(rows)) {
                cols.add(new Column("GMM NLL/dim, K = " + k, r -> r.nll().getOrDefault(k, Double.NaN), false, 3, true));
            }
            String loss = "diffusion loss at step " + count(diffusionSteps);
            cols.add(new Column(loss + ", training", Row::diffusionLoss, false, 4, true));
            cols.add(new Column(loss + ", held-out", Row::diffusionValLoss, false, 4, true));
            cols.add(new Column("gFD", Row::gfd, false, 2, false));
            cols.add(new Column("classifier accuracy", Row::accuracy, true, 3, false));
            return cols;
        }

        /**
         * The best value of a column as printed, over the models with their own numbers (a shared encoder's are counted
         * once): values that print the same are ties.
         */
        static double best(Column col, List<Row> rows) {
            double best = Double.NaN;
            for (Row r : rows) {
                if (col.perEncoder() && !r.model().ownEncoder()) {
                    continue;
                }
                double v = shown(col.value().apply(r), col.digits());
                if (Double.isFinite(v) && (Double.isNaN(best) || (col.higherIsBetter() ? v > best : v < best))) {
                    best = v;
                }
            }
            return best;
        }

        Report.Section models(List<Row> rows) {
            List<String> items = new ArrayList<>();
            for (Row r : rows) {
                Model m = r.model();
                items.add("**" + m.label() + "** (preset `" + m.preset() + "`" + (r.floats() > 0 ? ", latent " + r.latent() + " = "
                        + r.floats() + " floats" : "") + "): " + m.recipe() + ".");
            }
            List<Block> b = new ArrayList<>();
            b.add(new Block.Bullets(items));
            List<Long> sizes = rows.stream().map(Row::floats).filter(f -> f > 0).distinct().toList();
            if (sizes.size() > 1) {
                b.add(new Block.Paragraph("The latents are not the same size: " + String.join("; ", rows.stream().filter(r -> r.floats() > 0)
                        .map(r -> r.model().label() + " " + r.floats()).toList()) + " floats per image. The VMAE-family models (AE, VAE,"
                        + " AE + mask modelling, VMAE) share one architecture with 4 channels on an 8×8 grid; the `cpu` MAETok has 16"
                        + " tokens of 8 channels. The GMM analysis reduces every latent to the same 32 principal components."));
            }
            b.add(new Block.Paragraph("Departures from the papers, forced by two CPU cores and the bundled data: the MAETok here predicts HOG"
                    + " features **and** pixels of the masked patches (the paper adds DINOv2 and CLIP targets, whose teacher networks are"
                    + " not bundled); \"AE + mask modelling\" is the VMAE-architecture autoencoder with token dropping, reconstructing"
                    + " pixels; no model uses a perceptual or adversarial loss; the domain classifier stands in for InceptionV3, so the"
                    + " Fréchet distances are FD, not FID."));
            return new Report.Section("Models", b);
        }

        Report.Section table(List<Row> rows) {
            List<Column> cols = columns(rows, diffusionSteps);
            List<String> header = new ArrayList<>(List.of("model", "latent (floats)"));
            cols.forEach(col -> header.add(col.header()));
            List<List<String>> cells = new ArrayList<>();
            for (Row r : rows) {
                List<String> row = new ArrayList<>();
                row.add(r.model().label());
                row.add(r.floats() > 0 ? r.latent() + " (" + r.floats() + ")" : "–");
                for (Column col : cols) {
                    if (col.perEncoder() && !r.model().ownEncoder()) {
                        row.add("as " + label(r.model().from()));
                        continue;
                    }
                    double v = col.value().apply(r);
                    String text = f(v, col.digits());
                    row.add(Double.isFinite(v) && shown(v, col.digits()) == best(col, rows) ? "**" + text + "**" : text);
                }
                cells.add(row);
            }
            List<Provenance> made = new ArrayList<>();
            for (Pipeline.Stage s : p.stages()) {
                made.add(s.name().startsWith("diffusion-") ? Stages.diffusionProvenance(s, l.diffusion(s.name().substring("diffusion-".length())))
                        : s.provenance());
            }
            made = made.subList(0, Math.min(made.size(), c.outcomes().size()));
            JsonNode set = done("gmm") ? json(l.dir().resolve("gmm.json")).path("sets").path(0) : null;
            String caption = "Every model with the same data, steps and measurements; best of each column in bold (a shared encoder counted"
                    + " once). PSNR/SSIM/rFD: the trainer's " + TrainConfig.preset("cpu").data().valImages() + " held-out emoji at 32 px,"
                    + " rFD under the emoji domain classifier. Probe: held-out accuracy of a logistic regression on the latents (9"
                    + " categories). GMM: held-out NLL per dimension of a diagonal mixture with K components"
                    + (set != null ? " on " + set.path("dim").asInt() + " standardised principal components" : "")
                    + ". Diffusion loss: the SiT's velocity MSE at its last step, as last logged in training and on held-out latents (fixed"
                    + " times and noise). gFD and"
                    + " classifier accuracy: " + (c.smoke() ? "a few" : count(Stages.SAMPLES)) + " samples without guidance, labels cycling"
                    + " through the categories, against every real emoji. A dash: not measured in this run.";
            return new Report.Section("Results", List.of(new Block.Table(caption, header, cells, made)));
        }

        /** A value rounded as the report prints it, so that what reads as a tie is one. */
        static double shown(double v, int digits) {
            return Double.isFinite(v) ? Double.parseDouble(f(v, digits)) : v;
        }

        static String and(List<String> items) {
            return items.size() <= 1 ? String.join("", items)
                    : String.join(", ", items.subList(0, items.size() - 1)) + " and " + items.get(items.size() - 1);
        }

        static String label(String id) {
            return MODELS.stream().filter(m -> m.id().equals(id)).findFirst().map(Model::label).orElse(id);
        }

        /** The facts the table states, column by column, and how they compare with the papers' claims. */
        Report.Section whatItShows(List<Row> rows) {
            List<Block> b = new ArrayList<>();
            if (c.smoke()) {
                b.add(new Block.Paragraph("A --smoke run: the sentences below are generated from numbers that mean nothing."));
            }
            List<String> best = new ArrayList<>();
            for (Column col : columns(rows, diffusionSteps)) {
                double v = best(col, rows);
                if (Double.isNaN(v)) {
                    continue;
                }
                List<String> who = rows.stream().filter(r -> !(col.perEncoder() && !r.model().ownEncoder()))
                        .filter(r -> shown(col.value().apply(r), col.digits()) == v).map(r -> r.model().label()).toList();
                best.add((col.higherIsBetter() ? "Highest " : "Lowest ") + col.header() + ": " + and(who) + " (" + f(v, col.digits())
                        + ").");
            }
            if (!best.isEmpty()) {
                b.add(new Block.Paragraph("Column by column (Table 1):"));
                b.add(new Block.Bullets(best));
            }
            List<String> claims = claims(rows);
            if (!claims.isEmpty()) {
                b.add(new Block.Paragraph("Against the papers' claims, with the caveats of one small dataset, short training and one seed per"
                        + " model (differences of a few hundredths may be noise):"));
                b.add(new Block.Bullets(claims));
            }
            if (b.isEmpty()) {
                b.add(new Block.Paragraph("No model has been measured yet."));
            }
            return new Report.Section("What this shows", b);
        }

        static List<String> claims(List<Row> rows) {
            Map<String, Row> by = new LinkedHashMap<>();
            rows.forEach(r -> by.put(r.model().id(), r));
            List<Row> plain = List.of(by.get("ae"), by.get("vae"));
            List<Row> masked = List.of(by.get("ae-mm"), by.get("maetok"), by.get("vmae"));
            List<String> out = new ArrayList<>();
            List<Integer> ks = tableKs(rows);
            if (!ks.isEmpty()) {
                int k = ks.get(ks.size() - 1);
                compare(out, "Both papers: mask modelling gives latents with fewer modes, i.e. a lower GMM NLL than a plain AE or VAE (here at K = "
                        + k + ")", plain, masked, r -> r.nll().getOrDefault(k, Double.NaN), false, 3);
            }
            compare(out, "MAETok: mask modelling makes the latents more discriminative (higher linear-probe accuracy)", plain, masked,
                    Row::probe, true, 3);
            compare(out, "Both papers: the diffusion model learns mask-modelled latents more easily (lower held-out diffusion loss at the same"
                    + " step; losses on different latent spaces are only roughly comparable)", plain, masked, Row::diffusionValLoss, false, 4);
            compare(out, "Both papers: better generation from mask-modelled latents (lower gFD)", plain, masked, Row::gfd, false, 2);
            compare(out, "Both papers: mask modelling costs pixel fidelity before decoder tuning (lower PSNR than a plain AE or VAE)", plain,
                    masked, Row::psnr, false, 2);
            Row mae = by.get("maetok");
            Row ft = by.get("maetok-ft");
            if (Double.isFinite(mae.psnr()) && Double.isFinite(ft.psnr())) {
                boolean psnrUp = shown(ft.psnr(), 2) > shown(mae.psnr(), 2);
                boolean rfdDown = Double.isFinite(ft.rfd()) && Double.isFinite(mae.rfd()) ? shown(ft.rfd(), 2) < shown(mae.rfd(), 2) : psnrUp;
                out.add("MAETok: decoder fine-tuning improves reconstruction. Here: PSNR " + f(mae.psnr(), 2) + " → " + f(ft.psnr(), 2)
                        + " dB, rFD " + f(mae.rfd(), 2) + " → " + f(ft.rfd(), 2) + ": "
                        + (psnrUp && rfdDown ? "agrees." : psnrUp || rfdDown ? "partly agrees (one of the two improves)." : "does not agree."));
            }
            if (Double.isFinite(mae.gfd()) && Double.isFinite(ft.gfd())) {
                out.add("MAETok: decoder fine-tuning improves generation (gFID). Here, the same diffusion model's samples decoded by each: gFD "
                        + f(mae.gfd(), 2) + " → " + f(ft.gfd(), 2) + ": " + (shown(ft.gfd(), 2) < shown(mae.gfd(), 2) ? "agrees." : "does not agree."));
            }
            return out;
        }

        /**
         * "Agrees" when every mask-modelled model beats every plain one, "does not agree" when none beats any, "partly" otherwise;
         * {@code higher}: which way is better. Says nothing when a side has no number.
         */
        static void compare(List<String> out, String claim, List<Row> plain, List<Row> masked, Function<Row, Double> value,
                boolean higher, int digits) {
            List<Row> p = plain.stream().filter(r -> Double.isFinite(value.apply(r))).toList();
            List<Row> m = masked.stream().filter(r -> Double.isFinite(value.apply(r))).toList();
            if (p.isEmpty() || m.isEmpty()) {
                return;
            }
            long wins = 0;
            long pairs = 0;
            for (Row a : m) {
                for (Row b : p) {
                    pairs++;
                    double x = shown(value.apply(a), digits);
                    double y = shown(value.apply(b), digits);
                    wins += higher ? (x > y ? 1 : 0) : (x < y ? 1 : 0);
                }
            }
            String verdict = wins == pairs ? "agrees" : wins == 0 ? "does not agree" : "partly agrees (" + wins + " of " + pairs
                    + " mask-modelled/plain pairs go the papers' way)";
            Function<Row, String> show = r -> r.model().label() + " " + f(Math.abs(value.apply(r)), digits);
            out.add(claim + ". Here: " + String.join(", ", m.stream().map(show).toList()) + " against " + String.join(", ",
                    p.stream().map(show).toList()) + ": " + verdict + ".");
        }

        Report.Section plots() {
            List<Block> b = new ArrayList<>();
            if (done("gmm")) {
                b.add(new Block.Figure(l.dir().resolve("gmm.png"), "Held-out GMM NLL per dimension against K, one line per tokenizer"
                        + " (MAETok + decoder fine-tuning shares MAETok's latents).", List.of(p.stage("gmm").provenance())));
            }
            curves(b, "val_psnr", "held-out PSNR (dB)", "tokenizer-val-psnr.png", "Held-out PSNR of each tokenizer during training.",
                    m -> l.run(m.id()).resolve("metrics.jsonl"), "train-", m -> true);
            curves(b, "val_loss", "held-out diffusion loss", "diffusion-val-loss.png",
                    "Held-out loss of the SiT trained on each tokenizer's latents, against the step.",
                    m -> l.diffusion(m.id()).resolve("metrics.jsonl"), "diffusion-", Model::ownEncoder);
            for (Model m : MODELS) {
                if (done("sample-" + m.id())) {
                    List<Provenance> made = List.of(p.stage("sample-" + m.id()).provenance());
                    b.add(new Block.Figure(l.samples(m.id()).resolve("grid.png"), "Samples of the SiT on " + m.label()
                            + (m.ownEncoder() ? "'s latents" : " (MAETok's diffusion model, this decoder)")
                            + ", no guidance: a row per category.", made));
                }
            }
            if (b.isEmpty()) {
                b.add(new Block.Paragraph("No plot yet: the stages that draw them have not run."));
            }
            return new Report.Section("Plots", b);
        }

        /**
         * One chart of a logged value against the step, a line per model whose stage has finished; drawn by the study
         * from the runs' metrics.jsonl. Nothing when fewer than two points were logged (a smoke run).
         */
        private void curves(List<Block> b, String key, String yTitle, String file, String caption, Function<Model, Path> metrics,
                String stagePrefix, java.util.function.Predicate<Model> include) {
            List<Charts.Series> series = new ArrayList<>();
            List<Provenance> made = new ArrayList<>();
            for (Model m : MODELS) {
                if (!include.test(m) || !done(stagePrefix + m.id())) {
                    continue;
                }
                Pipeline.Stage stage = p.stage(stagePrefix + m.id());
                made.add(stagePrefix.equals("diffusion-") ? Stages.diffusionProvenance(stage, l.diffusion(m.id())) : stage.provenance());
                List<double[]> points = logged(metrics.apply(m), key);
                series.add(new Charts.Series(m.label(), points.stream().mapToDouble(q -> q[0]).toArray(),
                        points.stream().mapToDouble(q -> q[1]).toArray()));
            }
            Path png = l.plots().resolve(file);
            if (!made.isEmpty() && Charts.lines(png, new Charts.Axes(caption, "step", yTitle, false, false), series, 2, true)) {
                made.add(new Provenance(c.invocation(), "drawn by the study from each run's metrics.jsonl (key " + key + ")", "none (no random choice)"));
                b.add(new Block.Figure(png, caption, made));
            }
        }

        /** (step, value) of every row of a metrics log that holds {@code key}. */
        static List<double[]> logged(Path metrics, String key) {
            List<double[]> out = new ArrayList<>();
            if (!Files.isRegularFile(metrics)) {
                return out;
            }
            try (BufferedReader r = Files.newBufferedReader(metrics)) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.isBlank()) {
                        continue;
                    }
                    JsonNode row = Reports.JSON.readTree(line);
                    if (row.path(key).isNumber() && row.path("step").isNumber()) {
                        out.add(new double[] {row.path("step").asDouble(), row.path(key).asDouble()});
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(metrics + ": cannot read: " + e.getMessage(), e);
            }
            return out;
        }
    }
}
