package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.ImageSource;
import maetok4j.tensor.SafetensorsWriter;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** Images to latents. */
@Command(name = "encode", mixinStandardHelpOptions = true, description = "Encode images to latents (safetensors, key 'latents').")
final class EncodeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ImageInputs inputs;

    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors", description = "Where to write the latents.")
    Path out;

    @Mixin
    BatchOptions batch;

    @Override
    public Integer call() {
        batch.validate(spec);
        if (!Outputs.isTensorFile(out)) {
            throw new ParameterException(spec.commandLine(), "--out must name a .safetensors file, got " + out);
        }
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(inputs.model, manager)) {
            ImageSource source = inputs.open(tokenizer.imageSize());
            int n = source.size();
            long[] latent = tokenizer.latentShape();
            long[] shape = new long[latent.length + 1];
            shape[0] = n;
            System.arraycopy(latent, 0, shape, 1, latent.length);
            Map<String, SafetensorsWriter.Spec> specs = new LinkedHashMap<>();
            specs.put("latents", new SafetensorsWriter.Spec(DataType.FLOAT32, shape));
            double seconds;
            try (SafetensorsWriter writer = SafetensorsWriter.create(out, specs, Map.of("format", "pt", "model", inputs.model))) {
                seconds = Batches.run("encode", n, batch.batchSize, manager,
                        (first, count, scope) -> writer.write("latents", first, tokenizer.encode(source.batch(first, count, scope))));
                writer.commit();
            }
            System.out.printf("encoded %d image(s) in %.1f s (%.2f img/s) -> %s: latents %s%n", n, seconds, n / seconds, out,
                    java.util.Arrays.toString(shape));
            ObjectNode json = Reports.object().put("images", n).put("seconds", seconds).put("images_per_second", n / seconds)
                    .put("out", out.toString());
            var s = json.putArray("latent_shape");
            for (long d : shape) {
                s.add(d);
            }
            Reports.write(batch.json, json);
        }
        return 0;
    }
}
