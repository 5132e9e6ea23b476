package maetok4j.cli;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import maetok4j.tensor.ProcessMemory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * Encode and decode throughput on random images, with the process's resident memory before and after the
 * timed batches (flat memory means no native leak).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure encode/decode throughput (img/s, medians) and peak memory.")
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL|PRESET", defaultValue = "maetok-b-128",
            description = "A checkpoint folder or a preset name (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--batch-size", defaultValue = "4", description = "Images per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--iterations", defaultValue = "5", description = "Timed batches (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed batches first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
    Path json;

    @Override
    public Integer call() {
        if (batchSize < 1 || iterations < 1 || warmup < 0) {
            throw new ParameterException(spec.commandLine(), "--batch-size and --iterations must be at least 1, --warmup at least 0");
        }
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(model, manager)) {
            int s = tokenizer.imageSize();
            double[] enc = new double[iterations];
            double[] dec = new double[iterations];
            long rssBefore = 0;
            int arraysBefore = 0;
            var trace = Reports.JSON.createArrayNode();
            try (Progress progress = new Progress("bench", warmup + iterations, "batch", true)) {
                for (int i = -warmup; i < iterations; i++) {
                    if (i == 0) {
                        rssBefore = ProcessMemory.kb("VmRSS");
                        arraysBefore = ((BaseNDManager) manager).getManagedArrays().size();
                    }
                    try (NDManager step = manager.newSubManager()) {
                        NDArray images = step.randomUniform(-1, 1, new Shape(batchSize, 3, s, s));
                        long t0 = System.nanoTime();
                        NDArray z = tokenizer.encode(images);
                        z.toFloatArray(); // wait for the result
                        long t1 = System.nanoTime();
                        tokenizer.decode(z).toFloatArray();
                        long t2 = System.nanoTime();
                        if (i >= 0) {
                            enc[i] = (t1 - t0) / 1e9;
                            dec[i] = (t2 - t1) / 1e9;
                        }
                    }
                    progress.step(1);
                    if (i >= 0 && (i + 1) % Math.max(1, iterations / 10) == 0) {
                        Runtime rt = Runtime.getRuntime();
                        trace.add(Reports.object().put("batch", i + 1).put("rss_mb", ProcessMemory.kb("VmRSS") / 1024.0)
                                .put("java_heap_committed_mb", rt.totalMemory() / 1048576.0));
                    }
                }
            }
            long rssAfter = ProcessMemory.kb("VmRSS");
            int arraysAfter = ((BaseNDManager) manager).getManagedArrays().size();
            double encMedian = median(enc);
            double decMedian = median(dec);
            double[] both = new double[iterations];
            for (int i = 0; i < iterations; i++) {
                both[i] = enc[i] + dec[i];
            }
            double bothMedian = median(both);
            ObjectNode out = Reports.object().put("model", model).put("image_size", s).put("batch_size", batchSize)
                    .put("iterations", iterations).put("threads", Runtime.getRuntime().availableProcessors())
                    .put("encode_images_per_second", batchSize / encMedian)
                    .put("decode_images_per_second", batchSize / decMedian)
                    .put("encode_decode_images_per_second", batchSize / bothMedian)
                    .put("rss_mb_before", rssBefore / 1024.0).put("rss_mb_after", rssAfter / 1024.0)
                    .put("rss_mb_peak", ProcessMemory.kb("VmHWM") / 1024.0)
                    .put("native_arrays_before", arraysBefore).put("native_arrays_after", arraysAfter);
            out.set("memory_trace", trace);
            System.out.printf("%s at %d px, batch %d, %d timed batches (medians):%n", model, s, batchSize, iterations);
            System.out.printf("  encode          %8.3f img/s  (%.3f s/batch)%n", batchSize / encMedian, encMedian);
            System.out.printf("  decode          %8.3f img/s  (%.3f s/batch)%n", batchSize / decMedian, decMedian);
            System.out.printf("  encode+decode   %8.3f img/s%n", batchSize / bothMedian);
            System.out.printf("  memory          RSS %.0f MB -> %.0f MB, peak %.0f MB; native arrays %d -> %d%n",
                    rssBefore / 1024.0, rssAfter / 1024.0, ProcessMemory.kb("VmHWM") / 1024.0, arraysBefore, arraysAfter);
            StringBuilder t = new StringBuilder("  RSS / Java heap ");
            trace.forEach(n -> t.append(String.format(" %d:%.0f/%.0f", n.get("batch").asInt(), n.get("rss_mb").asDouble(),
                    n.get("java_heap_committed_mb").asDouble())));
            System.out.println(t + " MB");
            Reports.write(json, out);
        }
        return 0;
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
