package maetok4j.cli;

import maetok4j.tensor.Engines;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code maetok} command line. Exit codes: 0 success, 1 failure, 2 usage error. */
@Command(name = "maetok", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Masked-autoencoder image tokenizers (MAETok, VMAE) and latent diffusion.",
        subcommands = {
            DemoCommand.class,
            StudyCommand.class,
            InfoCommand.class,
            EncodeCommand.class,
            DecodeCommand.class,
            ReconstructCommand.class,
            BenchCommand.class,
            DataCommand.class,
            TrainCommands.Train.class,
            TrainCommands.FinetuneDecoder.class,
            TrainDiffusionCommand.class,
            EvalCommand.class,
            CacheLatentsCommand.class,
            AnalyzeCommand.class,
            SampleCommand.class,
            BenchDiffusionCommand.class,
            ConvertCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {

    static {
        Engines.configure();
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI in-process and returns its exit code (used by the tests). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("maetok: " + Failures.describe(e));
            if (System.getenv("MAETOK_DEBUG") != null) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"maetok " + (v == null ? "dev" : v)};
        }
    }
}
