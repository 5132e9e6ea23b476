package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.report.Provenance;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs stages in order, each one {@code maetok} command line executed in-process through {@link Main#run}, so that
 * every result a report shows can name the exact command that made it.
 *
 * <p>A stage that succeeds leaves a marker {@code DIR/.stages/NAME.json} (written atomically: the command line, the
 * arguments actually run, wall seconds, exit code). A later run reuses a stage whose marker holds the same command
 * and whose outputs all exist. Running a stage first removes the markers of the stages after it, since they were
 * made from what it is about to replace; so a surviving marker always postdates the stages before it.
 *
 * <p>A stage that owns a folder ({@link Stage#workDir}) and was interrupted is continued with its
 * {@link Stage#resumeArgs} (a trainer's {@code --resume}) when it was started with the same command; otherwise the
 * folder is removed and the stage starts afresh, because what is in it was made from other inputs.
 */
final class Pipeline {

    /**
     * One step of a pipeline.
     *
     * @param name identifier: marker, log and {@code --until} name (lower case, digits, '-')
     * @param title what the stage does, for the progress lines
     * @param args the {@code maetok} arguments
     * @param outputs files that exist when the stage has finished
     * @param workDir the folder the stage owns and writes into (inside the pipeline's folder), or null
     * @param resumeArgs arguments added to continue an interrupted run in {@code workDir}; empty: start afresh
     * @param config the configuration the command runs with, as a report names it
     * @param seed the seed the command uses and where it is set, as a report names it
     */
    record Stage(String name, String title, List<String> args, List<Path> outputs, Path workDir, List<String> resumeArgs,
            String config, String seed) {

        private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");
        private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:=,+@%-]+");

        Stage {
            if (name == null || !NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("stage name '" + name + "': lower-case letters, digits and '-' only");
            }
            args = List.copyOf(args);
            outputs = List.copyOf(outputs);
            resumeArgs = List.copyOf(resumeArgs);
            if (args.isEmpty() || outputs.isEmpty()) {
                throw new IllegalArgumentException("stage '" + name + "': needs a command and at least one output");
            }
            if (!resumeArgs.isEmpty() && workDir == null) {
                throw new IllegalArgumentException("stage '" + name + "': resume arguments need the folder the stage resumes in");
            }
            new Provenance(command(args), config, seed); // the report must be able to name it
        }

        /** The command line as a user would type it, quoted for a POSIX shell. */
        String command() {
            return command(args);
        }

        static String command(List<String> args) {
            StringBuilder s = new StringBuilder("maetok");
            for (String a : args) {
                s.append(' ').append(PLAIN.matcher(a).matches() ? a : "'" + a.replace("'", "'\\''") + "'");
            }
            return s.toString();
        }

        Provenance provenance() {
            return new Provenance(command(), config, seed);
        }
    }

    /** What happened to a stage: run now or reused from an earlier run, and its wall time then. */
    record Outcome(Stage stage, boolean reused, double seconds) {}

    /** A stage exited with a non-zero code; the message names the stage and its command. */
    static final class StageFailed extends RuntimeException {
        StageFailed(String message) {
            super(message);
        }
    }

    private final Path dir;
    private final List<Stage> stages;

    Pipeline(Path dir, List<Stage> stages) {
        this.dir = dir;
        this.stages = List.copyOf(stages);
        Set<String> names = new HashSet<>();
        Path root = dir.toAbsolutePath().normalize();
        for (Stage s : this.stages) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("two stages are named '" + s.name() + "'");
            }
            // a stage's folder may be deleted to start it afresh: it must be the pipeline's own
            if (s.workDir() != null && (!s.workDir().toAbsolutePath().normalize().startsWith(root)
                    || s.workDir().toAbsolutePath().normalize().equals(root))) {
                throw new IllegalArgumentException("stage '" + s.name() + "': its folder " + s.workDir() + " must be inside " + dir);
            }
        }
    }

    List<Stage> stages() {
        return stages;
    }

    Stage stage(String name) {
        return stages.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no stage '" + name + "'"));
    }

    Path marker(Stage s) {
        return dir.resolve(".stages").resolve(s.name() + ".json");
    }

    private Path running(Stage s) {
        return dir.resolve(".stages").resolve(s.name() + ".running.json");
    }

    Path log(Stage s) {
        return dir.resolve("logs").resolve(s.name() + ".log");
    }

    /**
     * True when the stage's marker holds its command and its outputs exist. A marker made by another command is an
     * error: this folder holds another pipeline's results, which must not be mixed into this one's report.
     */
    boolean finished(Stage s) {
        JsonNode m = readMarker(marker(s));
        if (m == null) {
            return false;
        }
        List<String> recorded = new ArrayList<>();
        m.path("args").forEach(a -> recorded.add(a.asText()));
        if (!recorded.equals(s.args())) {
            throw new IllegalArgumentException(marker(s) + ": stage '" + s.name() + "' was made by `" + Stage.command(recorded)
                    + "`, not `" + s.command() + "`; give another --out (or delete " + dir + " to start over)");
        }
        return s.outputs().stream().allMatch(Files::exists);
    }

    /** Seconds the stage took when it was run, from its marker. */
    double seconds(Stage s) {
        JsonNode m = readMarker(marker(s));
        return m == null ? Double.NaN : m.path("seconds").asDouble(Double.NaN);
    }

    /**
     * Runs the stages up to and including {@code until} (null: all), reusing finished ones. Progress lines go to
     * {@code console}; each stage's standard output goes to its log ({@code DIR/logs/NAME.log}), its progress bars
     * and error line to standard error.
     *
     * @throws StageFailed when a stage fails; the stages after it do not run
     */
    List<Outcome> run(String until, PrintStream console) {
        int last = until == null ? stages.size() - 1 : stages.indexOf(stage(until));
        List<Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i <= last; i++) {
            Stage s = stages.get(i);
            String head = String.format(Locale.ROOT, "[stage %d/%d] %s", i + 1, stages.size(), s.name());
            if (finished(s)) {
                double seconds = seconds(s);
                console.printf(Locale.ROOT, "%s: reused (ran in %s earlier)%n", head, Durations.format(seconds));
                outcomes.add(new Outcome(s, true, seconds));
                continue;
            }
            console.printf(Locale.ROOT, "%s: %s%n  %s%n", head, s.title(), s.command());
            outcomes.add(new Outcome(s, false, runStage(i, console)));
        }
        return outcomes;
    }

    private double runStage(int index, PrintStream console) {
        Stage s = stages.get(index);
        for (Stage later : stages.subList(index, stages.size())) {
            delete(marker(later));
        }
        List<String> args = new ArrayList<>(s.args());
        boolean resumed = false;
        if (s.workDir() != null && Files.exists(s.workDir())) {
            JsonNode started = readMarker(running(s));
            boolean sameCommand = started != null && started.path("command").asText().equals(s.command());
            if (sameCommand && !s.resumeArgs().isEmpty()) {
                args.addAll(s.resumeArgs());
                resumed = true;
                console.println("  continuing the interrupted run in " + s.workDir() + " (" + String.join(" ", s.resumeArgs()) + ")");
            } else {
                deleteTree(s.workDir());
            }
        }
        for (Stage later : stages.subList(index + 1, stages.size())) {
            delete(running(later));
        }
        Reports.write(running(s), Reports.object().put("stage", s.name()).put("command", s.command())
                .put("started", Instant.now().toString()));
        long start = System.nanoTime();
        int code = runLogged(args, log(s));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (code != 0) {
            throw new StageFailed(String.format(Locale.ROOT, "stage '%s' failed (exit %d): %s (its output: %s)", s.name(), code,
                    Stage.command(args), log(s)));
        }
        List<Path> missing = s.outputs().stream().filter(p -> !Files.exists(p)).toList();
        if (!missing.isEmpty()) {
            throw new StageFailed("stage '" + s.name() + "' succeeded but did not write " + missing + ": " + s.command());
        }
        ObjectNode m = Reports.object().put("stage", s.name()).put("command", s.command());
        ArrayNode a = m.putArray("args");
        s.args().forEach(a::add);
        ArrayNode ran = m.putArray("ran");
        args.forEach(ran::add);
        m.put("resumed", resumed).put("exit_code", code).put("seconds", seconds).put("finished", Instant.now().toString());
        Reports.write(marker(s), m);
        delete(running(s));
        console.printf(Locale.ROOT, "  done in %s%n", Durations.format(seconds));
        return seconds;
    }

    /** Main.run with standard output into the log; the stage's bars and error line stay on standard error. */
    private static int runLogged(List<String> args, Path log) {
        PrintStream console = System.out;
        try {
            Files.createDirectories(log.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(log.getParent() + ": cannot create: " + e.getMessage(), e);
        }
        try (PrintStream out = new PrintStream(new FileOutputStream(log.toFile()), true, StandardCharsets.UTF_8)) {
            System.setOut(out);
            return Main.run(args.toArray(String[]::new));
        } catch (IOException e) {
            throw new UncheckedIOException(log + ": cannot write: " + e.getMessage(), e);
        } finally {
            System.setOut(console);
        }
    }

    private static JsonNode readMarker(Path file) {
        if (!Files.exists(file)) {
            return null;
        }
        try {
            return Reports.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not a stage marker (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot delete: " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path folder) {
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot remove the unfinished stage's folder: " + e.getMessage(), e);
        }
    }
}
