package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Latents to images. */
@Command(name = "decode", mixinStandardHelpOptions = true, description = "Decode latents (safetensors, key 'latents') to images.")
final class DecodeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A checkpoint folder or a preset name.")
    String model;

    @Parameters(index = "1", paramLabel = "LATENTS.safetensors", description = "A file with 'latents' of the model's latent shape.")
    Path latentsFile;

    @Option(names = "--out", required = true, paramLabel = "DIR|FILE.safetensors",
            description = "A folder for PNGs, or a .safetensors file for 'images' [B,3,H,W] in [-1,1].")
    Path out;

    @Mixin
    BatchOptions batch;

    @Override
    public Integer call() {
        batch.validate(spec);
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(model, manager);
                Safetensors file = Safetensors.open(latentsFile)) {
            if (!file.tensors().containsKey("latents")) {
                throw new TensorFileException(latentsFile + ": no tensor 'latents' (has: " + String.join(", ", file.tensors().keySet()) + ")");
            }
            long[] shape = file.tensors().get("latents").shape();
            long[] expected = tokenizer.latentShape();
            if (shape.length != expected.length + 1 || !Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), expected)) {
                throw new TensorFileException(latentsFile + ": 'latents' are " + Arrays.toString(shape) + ", the model decodes [B, "
                        + Arrays.toString(expected).replaceAll("[\\[\\]]", "") + "]");
            }
            int n = Math.toIntExact(shape[0]);
            List<String> names = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                names.add(String.format("%06d", i));
            }
            NDArray latents = file.readAs("latents", manager, DataType.FLOAT32);
            double seconds;
            try (Outputs outputs = Outputs.images(out, names, tokenizer.imageSize(), Map.of("format", "pt", "model", model))) {
                seconds = Batches.run("decode", n, batch.batchSize, manager, (first, count, scope) -> {
                    NDArray z = latents.get(new NDIndex("{}:{}", first, first + count));
                    z.attach(scope);
                    outputs.put(first, tokenizer.decode(z));
                });
                outputs.commit();
            }
            System.out.printf("decoded %d latent(s) in %.1f s (%.2f img/s) -> %s%n", n, seconds, n / seconds, out);
            Reports.write(batch.json, Reports.object().put("images", n).put("seconds", seconds)
                    .put("images_per_second", n / seconds).put("out", out.toString()));
        }
        return 0;
    }
}
