package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.diffusion.Generator;
import maetok4j.diffusion.Guidance;
import maetok4j.diffusion.PathType;
import maetok4j.diffusion.Sampler;
import maetok4j.diffusion.SiT;
import maetok4j.diffusion.SiTConfig;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.ProcessMemory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** Sampling throughput of a SiT: samples per second at a given number of steps, with and without guidance. */
@Command(name = "bench-diffusion", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure SiT sampling throughput (samples/s, medians of timed batches) with and without classifier-free guidance,",
                "on a model folder or a preset with random weights (the speed does not depend on the weights)."})
final class BenchDiffusionCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--diffusion", paramLabel = "D", description = "A diffusion model folder.")
    Path diffusion;

    @Option(names = "--preset", paramLabel = "NAME", description = "Or a SiT preset (S, B, L, XL, cpu) with random weights.")
    String preset;

    @Option(names = "--latent-shape", split = ",", paramLabel = "DIMS",
            description = "With --preset: one latent's shape, L,C for tokens (default: 16,8, the cpu MAETok) or C,H,W for spatial latents.")
    long[] latentShape = {16, 8};

    @Option(names = "--patch-size", defaultValue = "1", paramLabel = "P", description = "With --preset and spatial latents (default: ${DEFAULT-VALUE}).")
    int patchSize;

    @Option(names = "--classes", defaultValue = "9", paramLabel = "K", description = "With --preset: classes (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "B", description = "Samples per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--steps", defaultValue = "50", paramLabel = "S", description = "Euler steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--cfg", defaultValue = "2", paramLabel = "W", description = "Guidance scale of the guided runs (default: ${DEFAULT-VALUE}).")
    double cfg;

    @Option(names = "--iterations", defaultValue = "3", paramLabel = "N", description = "Timed batches per setting (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
    Path json;

    @Override
    public Integer call() {
        if ((diffusion == null) == (preset == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give exactly one of --diffusion D and --preset NAME");
        }
        if (batchSize < 1 || steps < 1 || iterations < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--batch-size, --steps and --iterations must be at least 1");
        }
        try (NDManager manager = NDManager.newBaseManager(); SiT model = open(manager)) {
            SiTConfig c = model.config();
            long[] shape = model.latentShape();
            double plain = BenchCommand.median(run(model, shape, Guidance.none(), manager));
            double guided = BenchCommand.median(run(model, shape, new Guidance(cfg, 0, 1), manager));
            ObjectNode out = Reports.object().put("model", diffusion != null ? diffusion.toString() : "preset " + preset)
                    .put("hidden_size", c.hiddenSize()).put("depth", c.depth()).put("tokens", c.tokens()).put("batch_size", batchSize)
                    .put("steps", steps).put("sampler", "euler").put("cfg", cfg).put("iterations", iterations)
                    .put("threads", Runtime.getRuntime().availableProcessors())
                    .put("samples_per_second", batchSize / plain).put("samples_per_second_guided", batchSize / guided)
                    .put("rss_mb_peak", ProcessMemory.kb("VmHWM") / 1024.0);
            Arrays.stream(shape).forEach(out.putArray("latent_shape")::add);
            System.out.printf(Locale.ROOT, "SiT %s (hidden %d, depth %d, %d tokens), batch %d, Euler %d steps, %d timed batches (medians):%n",
                    diffusion != null ? diffusion : preset, c.hiddenSize(), c.depth(), c.tokens(), batchSize, steps, iterations);
            System.out.printf(Locale.ROOT, "  unguided          %8.2f samples/s  (%.2f s/batch)%n", batchSize / plain, plain);
            System.out.printf(Locale.ROOT, "  guided (w = %.1f)  %8.2f samples/s  (%.2f s/batch; the batch is doubled)%n", cfg, batchSize / guided, guided);
            Reports.write(json, out);
        }
        return 0;
    }

    private SiT open(NDManager manager) {
        if (diffusion != null) {
            return SiT.load(diffusion, manager);
        }
        boolean tokens = latentShape.length == 2;
        if (!tokens && (latentShape.length != 3 || latentShape[1] != latentShape[2])) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--latent-shape must be L,C or C,S,S, got " + Arrays.toString(latentShape));
        }
        try {
            SiTConfig config = tokens ? SiTConfig.preset(preset, (int) latentShape[0], 1, (int) latentShape[1], classes, true)
                    : SiTConfig.preset(preset, (int) latentShape[1], patchSize, (int) latentShape[0], classes, false);
            return SiT.create(config, manager, 0);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** Seconds per batch, one untimed batch first. */
    private double[] run(SiT model, long[] shape, Guidance guidance, NDManager manager) {
        Sampler sampler = new Sampler(Sampler.Kind.EULER, steps, guidance, PathType.LINEAR);
        double[] seconds = new double[iterations];
        try (Progress bar = new Progress(guidance.scale() > 1 ? "guided" : "unguided", (long) (iterations + 1) * steps, "step", true)) {
            for (int i = -1; i < iterations; i++) {
                try (NDManager scope = manager.newSubManager()) {
                    NDArray noise = Generator.noise(scope, shape, i, 0, batchSize);
                    long[] y = new long[batchSize];
                    for (int b = 0; b < batchSize; b++) {
                        y[b] = b % model.config().numClasses();
                    }
                    long t0 = System.nanoTime();
                    sampler.sample(model, noise, OwnedArrays.of(scope, y), new long[batchSize], s -> bar.step(1)).toDoubleArray(); // waits for the result
                    if (i >= 0) {
                        seconds[i] = (System.nanoTime() - t0) / 1e9;
                    }
                }
            }
        }
        return seconds;
    }
}
