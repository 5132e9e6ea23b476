package maetok4j.tokenizer;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.nn.Module;
import maetok4j.nn.StateDict;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.Safetensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checkpoint folders in the reference's Hugging Face layout: {@code config.json} (the model's config) and
 * {@code model.safetensors} (its state dict). Other files in the folder are ignored.
 */
public final class Checkpoints {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Checkpoints() {}

    /** A loaded tokenizer and the file keys it did not use. */
    public record Loaded(Tokenizer tokenizer, List<String> ignoredKeys) {}

    /** Loads a tokenizer, ignoring (and logging) training-only keys such as a teacher's or auxiliary decoders'. */
    public static Tokenizer load(Path folder, NDManager parent) {
        Loaded l = load(folder, parent, StateDict.Mode.LENIENT);
        if (!l.ignoredKeys().isEmpty()) {
            LOG.info("{}: ignored {} tensor(s) the model does not use: {}", folder.resolve(WEIGHTS),
                    l.ignoredKeys().size(), StateDict.summarize(l.ignoredKeys()));
        }
        return l.tokenizer();
    }

    public static Loaded load(Path folder, NDManager parent, StateDict.Mode mode) {
        TokenizerConfig config = readConfig(folder);
        Path weights = folder.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new CheckpointException(weights + ": no such file" + (Files.exists(folder.resolve("pytorch_model.bin"))
                    ? " (PyTorch pickles are converted with 'maetok convert')" : ""));
        }
        List<String> ignored = new ArrayList<>();
        try (Safetensors file = Safetensors.open(weights)) {
            return new Loaded(MAETok.load(config, file, parent, mode, ignored), ignored);
        }
    }

    /** Reads and validates {@code folder/config.json}. */
    public static TokenizerConfig readConfig(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new CheckpointException(folder + ": not a checkpoint folder (expected a folder with "
                    + CONFIG + " and " + WEIGHTS + ")");
        }
        Path file = folder.resolve(CONFIG);
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage());
        }
        // Some huggingface_hub versions nest a dataclass config under "config"; accept both layouts.
        if (root != null && root.path("config").isObject() && !root.has("encoder_model")) {
            root = root.get("config");
        }
        try {
            return TokenizerConfig.fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage());
        }
    }

    /** Writes the state dict and the config, each atomically (weights first, so a config never names missing weights). */
    static void save(Module model, ObjectNode config, Path folder) {
        StateDict.save(model, folder.resolve(WEIGHTS));
        try {
            AtomicFiles.writeString(folder.resolve(CONFIG), JSON.writeValueAsString(config) + "\n");
        } catch (JsonProcessingException e) {
            throw new CheckpointException(folder.resolve(CONFIG) + ": cannot serialise config: " + e.getMessage());
        }
    }
}
