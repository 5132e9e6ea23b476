package maetok4j.cli;

import maetok4j.tokenizer.Checkpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** A PyTorch {@code .pth}/{@code .bin} checkpoint to a checkpoint folder, read without running any code from the file. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a PyTorch .pth/.bin checkpoint (e.g. the released vmaef8d16.pth) and its config.json to a checkpoint folder.")
final class ConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "SRC", description = "The PyTorch checkpoint (zip format, torch >= 1.6).")
    Path source;

    @Option(names = "--config", required = true, paramLabel = "CONFIG.json|PRESET",
            description = "The reference's config.json (constructor arguments) for the model, or a preset name (vmae-f8d16, maetok-b-128, ...).")
    String config;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The checkpoint folder to write (config.json + model.safetensors).")
    Path out;

    @Option(names = "--key", paramLabel = "NAME", description = "The entry holding the state dict (default: found automatically, e.g. 'model').")
    String key;

    @Option(names = "--allow-global", paramLabel = "MODULE.CLASS",
            description = "A Python class the pickle may build as inert data (e.g. argparse.Namespace in MAE-style checkpoints); repeatable.")
    List<String> allowGlobal = List.of();

    @Option(names = "--force", description = "Replace an existing DIR (only once the new folder is complete).")
    boolean force;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the summary as JSON to FILE.")
    Path json;

    private String configText() throws IOException {
        Path file = Path.of(config);
        if (Files.isRegularFile(file)) {
            return Files.readString(file);
        }
        String preset = Checkpoints.presetConfigJson(config);
        if (preset == null) {
            throw new IllegalArgumentException(config + ": no such file (the reference's config.json), and not a preset");
        }
        return preset;
    }

    @Override
    public Integer call() throws IOException {
        Checkpoints.Conversion c = Checkpoints.convertTorch(source, key, Set.copyOf(allowGlobal), configText(), out, force);
        System.out.printf(Locale.ROOT, "%s: %d tensors, %,d elements -> %s (%s)%n", source, c.tensors(), c.elements(), out, c.kind());
        if (!c.ignoredKeys().isEmpty()) {
            System.out.printf(Locale.ROOT, "  %d tensor(s) the model does not use are kept in the file: %s%n", c.ignoredKeys().size(),
                    String.join(", ", c.ignoredKeys().subList(0, Math.min(5, c.ignoredKeys().size())))
                            + (c.ignoredKeys().size() > 5 ? ", ..." : ""));
        }
        var o = Reports.object().put("source", source.toString()).put("out", out.toString()).put("kind", c.kind())
                .put("tensors", c.tensors()).put("elements", c.elements());
        c.ignoredKeys().forEach(o.putArray("ignored_keys")::add);
        Reports.write(json, o);
        return 0;
    }
}
