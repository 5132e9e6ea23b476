package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.report.Block;
import maetok4j.report.Provenance;
import maetok4j.report.Report;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * What {@code maetok demo} and {@code maetok study} share: the options, running the stages through {@link Pipeline},
 * writing {@code report.md} and {@code report.html}, and the closing summary of where everything is.
 */
abstract class PipelineCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--smoke", description = "A few steps and images per stage: checks the whole chain in minutes; its numbers measure nothing.")
    boolean smoke;

    @Option(names = "--until", paramLabel = "STAGE", description = "Run the stages up to and including STAGE (see --list), then report on those.")
    String until;

    @Option(names = "--list", description = "Print the stages and their command lines; run nothing.")
    boolean list;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the stages, their commands and times, and the output paths as JSON.")
    Path json;

    /** The pipeline's folder (the --out option of each command, with its own default). */
    abstract Path out();

    abstract List<Pipeline.Stage> stages();

    /** The report on the stages that have finished (all of them unless --until stopped early). */
    abstract Report report(Pipeline pipeline, Context context);

    /** Label and path of what a user looks for afterwards, for the stages that have finished. */
    abstract Map<String, Path> products(Pipeline pipeline);

    /** What the report says about the run as a whole. */
    record Context(String invocation, boolean smoke, String until, List<Pipeline.Outcome> outcomes, double seconds, String date) {}

    @Override
    public Integer call() {
        String name = spec.name();
        List<Pipeline.Stage> stages = stages();
        Pipeline pipeline = new Pipeline(out(), stages);
        if (list) {
            for (int i = 0; i < stages.size(); i++) {
                System.out.printf(Locale.ROOT, "%2d. %-22s %s%n", i + 1, stages.get(i).name(), stages.get(i).command());
            }
            return 0;
        }
        if (until != null && stages.stream().noneMatch(s -> s.name().equals(until))) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--until: no stage '" + until + "' (stages: "
                    + String.join(", ", stages.stream().map(Pipeline.Stage::name).toList()) + ")");
        }
        if (Files.exists(out()) && !Files.isDirectory(out())) {
            throw new IllegalArgumentException(out() + ": exists and is not a folder");
        }
        // the parse result of a subcommand holds the whole command line, its own name included
        String invocation = Pipeline.Stage.command(spec.commandLine().getParseResult().originalArgs());
        long start = System.nanoTime();
        List<Pipeline.Outcome> outcomes;
        try {
            outcomes = pipeline.run(until, System.out);
        } catch (Pipeline.StageFailed e) {
            System.err.println("maetok " + name + ": " + e.getMessage());
            return 1;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        String date = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT));
        Report report = report(pipeline, new Context(invocation, smoke, until, outcomes, seconds, date));
        Path md = out().resolve("report.md");
        Path html = out().resolve("report.html");
        report.writeMarkdown(md);
        report.writeHtml(html);

        long reused = outcomes.stream().filter(Pipeline.Outcome::reused).count();
        System.out.printf(Locale.ROOT, "%s %s in %s (%d stage(s) run, %d reused%s)%n", name, until == null ? "finished" : "stopped after " + until,
                Durations.format(seconds), outcomes.size() - reused, reused,
                outcomes.size() < stages.size() ? ", " + (stages.size() - outcomes.size()) + " not run" : "");
        Map<String, Path> products = new java.util.LinkedHashMap<>();
        products.put("report", md);
        products.put("report (HTML)", html);
        products.putAll(products(pipeline));
        products.put("stage logs", out().resolve("logs"));
        int width = products.keySet().stream().mapToInt(String::length).max().orElse(0) + 1;
        products.forEach((label, path) -> System.out.printf(Locale.ROOT, "  %-" + width + "s %s%n", label + ":", path));

        ObjectNode o = Reports.object().put("command", invocation).put("out", out().toString()).put("smoke", smoke).put("seconds", seconds);
        ArrayNode a = o.putArray("stages");
        for (Pipeline.Outcome r : outcomes) {
            a.addObject().put("stage", r.stage().name()).put("command", r.stage().command()).put("seconds", r.seconds()).put("reused", r.reused());
        }
        ObjectNode p = o.putObject("outputs");
        products.forEach((label, path) -> p.put(label, path.toString()));
        Reports.write(json, o);
        return 0;
    }

    // ---- what both reports share ---------------------------------------------------------------------------

    /** The opening paragraphs: the command, when and where it ran, and what a smoke or partial run means. */
    static List<Block> preamble(Pipeline pipeline, Context c, String what) {
        List<Block> blocks = new ArrayList<>();
        blocks.add(new Block.Paragraph(what));
        blocks.add(new Block.Paragraph(String.format(Locale.ROOT,
                "Made by `%s` on %s, %d processor(s) available, %s in this invocation. Under every table and figure are the commands"
                        + " that made it, with their config and seed; the run folders and latent stores they read come from the stages"
                        + " listed in the last section. Every stage's full output is in `%s`.",
                c.invocation(), c.date(), Runtime.getRuntime().availableProcessors(), Durations.format(c.seconds()),
                pipeline.log(pipeline.stages().get(0)).getParent())));
        if (c.smoke()) {
            blocks.add(new Block.Paragraph("**This is a --smoke run**: every stage ran only a few steps on few images, to check the chain"
                    + " end to end. Its numbers measure nothing about the models."));
        }
        List<String> notRun = pipeline.stages().subList(c.outcomes().size(), pipeline.stages().size()).stream()
                .map(s -> "`" + s.name() + "`").toList();
        if (!notRun.isEmpty()) {
            blocks.add(new Block.Paragraph("Stopped after stage `" + c.until() + "` (`--until`): this report covers the stages that ran;"
                    + " not run: " + String.join(", ", notRun) + "."));
        }
        return blocks;
    }

    /** The table of stages: what ran, its command, how long it took and whether this invocation reused it. */
    static Report.Section stagesSection(Pipeline pipeline, Context c) {
        List<List<String>> rows = new ArrayList<>();
        int i = 0;
        for (Pipeline.Outcome o : c.outcomes()) {
            rows.add(List.of(Integer.toString(++i), "`" + o.stage().name() + "`", o.stage().title(), "`" + o.stage().command() + "`",
                    Durations.format(o.seconds()), o.reused() ? "reused" : "run"));
        }
        return new Report.Section("Stages", List.of(
                new Block.Paragraph("Each stage is one `maetok` command, run in the order below. A re-run reuses every stage whose marker"
                        + " (`" + pipeline.marker(pipeline.stages().get(0)).getParent() + "`) and outputs exist."),
                new Block.Table("The stages of this report, their wall time when they ran, and whether this invocation ran or reused them.",
                        List.of("#", "stage", "what it does", "command", "wall time", "this invocation"), rows,
                        List.of(new Provenance(c.invocation(), "the stage commands in this table", "0 in every stage")))));
    }

    // ---- reading results -----------------------------------------------------------------------------------

    static JsonNode json(Path file) {
        try {
            return Reports.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the stage's results: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** A number a stage must have written; its absence is an error naming the file and field. */
    static double number(JsonNode node, String field, Path file) {
        JsonNode v = node.path(field);
        if (!v.isNumber()) {
            throw new IllegalArgumentException(file + ": no number '" + field + "'");
        }
        return v.asDouble();
    }

    /** A number with {@code digits} decimals, or a dash for a missing or non-finite one. */
    static String f(double v, int digits) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + digits + "f", v) : "–";
    }

    static String f(JsonNode v, int digits) {
        return v != null && v.isNumber() ? f(v.asDouble(), digits) : "–";
    }

    /** Thousands separated, as the README writes counts. */
    static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** A figure when the file exists, else a sentence saying why there is none. */
    static Block figureOrNote(Path png, String caption, List<Provenance> madeBy, String missing) {
        return Files.isRegularFile(png) ? new Block.Figure(png, caption, madeBy) : new Block.Paragraph(missing);
    }
}
