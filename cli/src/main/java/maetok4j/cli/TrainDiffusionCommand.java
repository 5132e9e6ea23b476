package maetok4j.cli;

import maetok4j.diffusion.DiffusionTrainConfig;
import maetok4j.diffusion.DiffusionTrainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code maetok train-diffusion}: SiT on a latent store, exported as a diffusion model folder. */
@Command(name = "train-diffusion", mixinStandardHelpOptions = true,
        description = "Train a SiT diffusion model on cached latents (maetok cache-latents) and export its EMA weights.")
final class TrainDiffusionCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "CONFIG", description = "training config (YAML); may name a 'preset' and override its keys")
    Path configFile;

    @Option(names = "--preset", paramLabel = "NAME", description = "a bundled config instead of a file: S, B, L, XL (the SiT paper's sizes and recipe), cpu (2 cores, minutes)")
    String preset;

    @Option(names = "--latents", paramLabel = "DIR|FILE", description = "a latent store folder, or a .safetensors file with 'latents' (and 'labels'); overrides the config's 'latents'")
    Path latents;

    @Option(names = "--out", required = true, paramLabel = "RUN_DIR", description = "run directory (config.yaml, metrics, plots, checkpoints, model)")
    Path out;

    @Option(names = "--resume", description = "continue the run in RUN_DIR from its last checkpoint")
    boolean resume;

    @Option(names = "--steps", paramLabel = "N", description = "override the number of steps (smoke runs)")
    Long steps;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the summary to FILE")
    Path json;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Override
    public Integer call() {
        if ((configFile == null) == (preset == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give a CONFIG file or --preset NAME (one of them)");
        }
        if (steps != null && steps < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be at least 1");
        }
        DiffusionTrainConfig config = configFile != null ? DiffusionTrainConfig.load(configFile) : DiffusionTrainConfig.preset(preset);
        if (latents != null) {
            config = config.withLatents(latents);
        }
        if (config.data().latents() == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --latents DIR (a latent store or a .safetensors file), or 'latents' in the config");
        }
        if (steps != null) {
            config = config.withSteps(steps);
        }
        DiffusionTrainer.Summary s;
        try (TrainCommands.Bar bar = new TrainCommands.Bar("train-diffusion", "samples/s", !noProgress);
                DiffusionTrainer trainer = new DiffusionTrainer(config, out, resume, bar)) {
            s = trainer.run();
        }
        Reports.write(json, s.toJson());
        System.out.printf(Locale.ROOT, "train-diffusion: %d steps in %.0f s (%.2f steps/s, %.0f samples/s), loss %s, held-out loss %s (EMA %s, null label %s)%n",
                s.steps() - s.resumedFrom(), s.seconds(), s.stepsPerSecond(), s.samplesPerSecond(), format(s.loss()), format(s.valLoss()),
                format(s.valLossEma()), format(s.valLossNull()));
        System.out.println("model:   " + (s.model() == null ? "not exported (the run is not complete)" : s.model()));
        System.out.println("metrics: " + out.resolve("metrics.jsonl"));
        System.out.println("plots:   " + out.resolve("plots"));
        return 0;
    }

    private static String format(Double v) {
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
    }
}
