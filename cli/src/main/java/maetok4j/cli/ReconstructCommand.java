package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.data.ImageSource;
import maetok4j.data.ImageTensors;
import maetok4j.metrics.Psnr;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Images through the tokenizer and back, with the reconstruction PSNR. */
@Command(name = "reconstruct", mixinStandardHelpOptions = true, description = "Encode and decode images; report PSNR against the inputs.")
final class ReconstructCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ImageInputs inputs;

    @Option(names = "--out", required = true, paramLabel = "DIR|FILE.safetensors",
            description = "A folder for PNGs (named after the inputs), or a .safetensors file for 'images'.")
    Path out;

    @Mixin
    BatchOptions batch;

    @Override
    public Integer call() {
        batch.validate(spec);
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(inputs.model, manager)) {
            ImageSource source = inputs.open(tokenizer.imageSize());
            int n = source.size();
            List<String> names = source.items().stream().map(ImageSource.Item::name).toList();
            double[] psnr = new double[n];
            double seconds;
            try (Outputs outputs = Outputs.images(out, names, tokenizer.imageSize(), Map.of("format", "pt", "model", inputs.model))) {
                seconds = Batches.run("reconstruct", n, batch.batchSize, manager, (first, count, scope) -> {
                    NDArray images = source.batch(first, count, scope);
                    NDArray rec = tokenizer.reconstruct(images);
                    System.arraycopy(Psnr.perImage(images, ImageTensors.quantize(rec)), 0, psnr, first, count);
                    outputs.put(first, rec);
                });
                outputs.commit();
            }
            double psnrMean = java.util.Arrays.stream(psnr).average().orElse(Double.NaN);
            System.out.printf("reconstructed %d image(s) in %.1f s (%.2f img/s), PSNR %.2f dB -> %s%n", n, seconds, n / seconds,
                    psnrMean, out);
            Reports.write(batch.json, Reports.object().put("images", n).put("seconds", seconds)
                    .put("images_per_second", n / seconds).put("psnr", psnrMean).put("out", out.toString()));
        }
        return 0;
    }
}
