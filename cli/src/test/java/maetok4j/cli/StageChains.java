package maetok4j.cli;

import picocli.CommandLine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Checks on a pipeline definition that need no stage to run. */
final class StageChains {

    /** One command tree for every parse: building it takes picocli's reflection over every command. */
    private static final CommandLine CLI = new CommandLine(new Main());

    private StageChains() {}

    /** The command line of a stage as picocli parses it: the innermost subcommand. */
    static synchronized CommandLine.ParseResult parse(Pipeline.Stage s) {
        CommandLine.ParseResult r = CLI.parseArgs(s.args().toArray(String[]::new));
        while (r.hasSubcommand()) {
            r = r.subcommand();
        }
        return r;
    }

    /**
     * Every path a stage names inside {@code dir} is its own (an output, or inside the folder it owns) or was made by
     * an earlier stage: so the stages read only what ran before them, in order.
     */
    static void assertEachStageReadsOnlyWhatEarlierStagesMade(Path dir, List<Pipeline.Stage> stages) {
        List<Path> made = new ArrayList<>();
        for (Pipeline.Stage s : stages) {
            List<Path> own = new ArrayList<>(s.outputs());
            if (s.workDir() != null) {
                own.add(s.workDir());
            }
            own.forEach(p -> assertThat(p.startsWith(dir)).as(s.name() + " writes " + p + " inside " + dir).isTrue());
            for (String a : s.args()) {
                if (!a.startsWith(dir.toString())) {
                    continue;
                }
                Path p = Path.of(a);
                boolean ownPath = own.stream().anyMatch(p::startsWith);
                boolean earlier = made.stream().anyMatch(p::startsWith);
                assertThat(ownPath || earlier).as("stage %s names %s, which neither it nor an earlier stage makes", s.name(), p).isTrue();
            }
            made.addAll(own);
        }
    }

    /** Every stage whose command takes --seed is given seed 0. */
    static void assertSeedsAreZero(List<Pipeline.Stage> stages) {
        for (Pipeline.Stage s : stages) {
            CommandLine.ParseResult r = parse(s);
            if (r.commandSpec().findOption("--seed") != null) {
                int i = s.args().indexOf("--seed");
                assertThat(i).as(s.name() + " passes --seed").isNotNegative();
                assertThat(s.args().get(i + 1)).as(s.name() + " seed").isEqualTo("0");
            }
        }
    }
}
