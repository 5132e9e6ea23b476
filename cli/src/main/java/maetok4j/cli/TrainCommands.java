package maetok4j.cli;

import maetok4j.tensor.AtomicFiles;
import maetok4j.training.TokenizerTrainer;
import maetok4j.training.TrainConfig;
import maetok4j.training.VmaeTrainer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code maetok train} (stage 1, mask modelling) and {@code maetok finetune-decoder} (stage 2). */
final class TrainCommands {

    private TrainCommands() {}

    /** What both stages take on the command line. */
    abstract static class Base implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", arity = "0..1", paramLabel = "CONFIG", description = "training config (YAML)")
        Path configFile;

        @Option(names = "--preset", paramLabel = "NAME", description = "a bundled config instead of a file: cpu, maetok-b-128 (MAETok); vmae-cpu and its baselines ae-cpu, dae-cpu, vae-cpu, ae-mm-cpu, vae-mm-cpu (VMAE)")
        String preset;

        @Option(names = "--out", required = true, paramLabel = "RUN_DIR", description = "run directory (checkpoints, metrics, plots, tokenizer)")
        Path out;

        @Option(names = "--resume", description = "continue the run in RUN_DIR from its last checkpoint")
        boolean resume;

        @Option(names = "--steps", paramLabel = "N", description = "override the number of steps (smoke runs)")
        Long steps;

        @Option(names = "--data", paramLabel = "SOURCE", description = "override the dataset")
        String data;

        @Option(names = "--json", paramLabel = "FILE", description = "also write the summary to FILE")
        Path json;

        @Option(names = "--no-progress", description = "no progress bar")
        boolean noProgress;

        abstract TokenizerTrainer.Stage stage();

        abstract Path from();

        @Override
        public Integer call() throws IOException {
            if ((configFile == null) == (preset == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give a CONFIG file or --preset NAME (one of them)");
            }
            if (steps != null && steps < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be at least 1");
            }
            TrainConfig config = configFile != null ? TrainConfig.load(configFile) : TrainConfig.preset(preset);
            if (stage() == TokenizerTrainer.Stage.DECODER_FINETUNE) {
                config = config.forFinetune();
            }
            if (steps != null) {
                config = config.withSteps(steps);
            }
            if (data != null) {
                config = config.withDataset(data);
            }
            Files.createDirectories(out);
            String text = configFile != null ? Files.readString(configFile) : TrainConfig.presetText(preset);
            Path saved = out.resolve(stage().command + ".yaml");
            if (!resume || !Files.exists(saved)) {
                AtomicFiles.writeString(saved, text);
            }
            Bar bar = new Bar(stage().command, "img/s", !noProgress);
            TokenizerTrainer.Summary s;
            try {
                s = config.isVmae() ? trainVmae(config, bar) : trainMaetok(config, bar);
            } finally {
                bar.close();
            }
            Reports.write(json, s.toJson());
            System.out.printf(Locale.ROOT, "%s: %d steps in %.0f s (%.1f img/s), held-out PSNR %s dB, peak RSS %.2f GB%n",
                    stage().command, s.steps() - s.resumedFrom(), s.seconds(), s.imagesPerSecond(),
                    s.heldOutPsnr() == null ? "n/a" : String.format(Locale.ROOT, "%.2f", s.heldOutPsnr()), s.peakRssBytes() / 1e9);
            if (s.pcaBaseline() != null) {
                System.out.printf(Locale.ROOT, "PCA codec with the same %s latent floats on the same images: %.2f dB%n",
                        "number of", s.pcaBaseline()[0]);
            }
            System.out.println("tokenizer: " + s.tokenizer());
            System.out.println("metrics:   " + out.resolve("metrics.jsonl"));
            System.out.println("plots:     " + out.resolve("plots"));
            return 0;
        }

        private TokenizerTrainer.Summary trainMaetok(TrainConfig config, Bar bar) {
            try (TokenizerTrainer trainer = new TokenizerTrainer(config, stage(), out, from(), resume, bar)) {
                return trainer.run();
            }
        }

        /** A config whose model is a VMAE: pre-training (train) or decoder tuning (finetune-decoder). */
        private TokenizerTrainer.Summary trainVmae(TrainConfig config, Bar bar) {
            try (VmaeTrainer trainer = new VmaeTrainer(config, stage(), out, from(), resume, bar)) {
                return trainer.run();
            }
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train a MAETok tokenizer with mask modelling and auxiliary targets (stage 1).")
    static final class Train extends Base {

        @Override
        TokenizerTrainer.Stage stage() {
            return TokenizerTrainer.Stage.MASK_MODELING;
        }

        @Override
        Path from() {
            return null;
        }
    }

    @Command(name = "finetune-decoder", mixinStandardHelpOptions = true,
            description = "Fine-tune the pixel decoder on the frozen encoder while the mask ratio falls to 0 (stage 2).")
    static final class FinetuneDecoder extends Base {

        @Option(names = "--from", required = true, paramLabel = "RUN_DIR|MODEL", description = "a stage-1 run directory or a tokenizer folder")
        Path fromPath;

        @Override
        TokenizerTrainer.Stage stage() {
            return TokenizerTrainer.Stage.DECODER_FINETUNE;
        }

        @Override
        Path from() {
            return fromPath;
        }
    }

    /** A progress bar over steps with the live loss and throughput (also {@code train-diffusion}'s). */
    static final class Bar implements TokenizerTrainer.Listener, AutoCloseable {

        private final String task;
        private final String throughputUnit;
        private final boolean show;
        private ProgressBar bar;

        /** @param throughputUnit e.g. "img/s" */
        Bar(String task, String throughputUnit, boolean show) {
            this.task = task;
            this.throughputUnit = throughputUnit;
            this.show = show;
        }

        @Override
        public void begin(long firstStep, long totalSteps) {
            if (show) {
                bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalSteps).startsFrom(firstStep, java.time.Duration.ZERO)
                        .setUnit(" steps", 1).setStyle(ProgressBarStyle.ASCII)
                        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
            }
        }

        @Override
        public void step(long step, double loss, double imagesPerSecond) {
            if (bar != null) {
                bar.stepTo(step);
                if (!Double.isNaN(loss)) {
                    bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f, %.1f %s", loss, imagesPerSecond, throughputUnit));
                }
            }
        }

        @Override
        public void note(String message) {
            System.err.println((bar != null ? "\n" : "") + "maetok: " + message);
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }
}
