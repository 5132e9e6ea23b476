package maetok4j.tokenizer;

import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a tokenizer from what a user names: a checkpoint folder, or a preset (random weights, for inspection and benchmarks). */
public final class Tokenizers {

    private static final Logger LOG = LoggerFactory.getLogger(Tokenizers.class);

    private Tokenizers() {}

    public static Tokenizer open(String modelOrPreset, NDManager manager) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.load(p, manager);
        }
        if (Presets.exists(modelOrPreset)) {
            LOG.info("{}: preset with random weights (seed 0)", modelOrPreset);
            return MAETok.create(Presets.get(modelOrPreset), manager, 0);
        }
        throw notFound(modelOrPreset);
    }

    /** The configuration behind a folder or preset name, without loading weights. */
    public static TokenizerConfig config(String modelOrPreset) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.readConfig(p);
        }
        if (Presets.exists(modelOrPreset)) {
            return Presets.get(modelOrPreset);
        }
        throw notFound(modelOrPreset);
    }

    private static CheckpointException notFound(String name) {
        return new CheckpointException("'" + name + "' is neither a checkpoint folder nor a preset ("
                + String.join(", ", Presets.all().keySet()) + ")");
    }
}
