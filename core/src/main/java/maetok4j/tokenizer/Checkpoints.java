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
import maetok4j.tensor.TensorFileException;
import maetok4j.tensor.TorchCheckpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /**
     * Loads the tokenizer a folder holds: a VMAE when its {@code config.json} has {@code MaskedAutoencoderViT}
     * keys ({@link VmaeConfig#describes}), a MAETok otherwise. This is the one place that tells them apart.
     */
    public static Loaded load(Path folder, NDManager parent, StateDict.Mode mode) {
        Path configFile = folder.resolve(CONFIG);
        JsonNode root = readJson(folder);
        boolean vmae = VmaeConfig.describes(root);
        VmaeConfig vmaeConfig = vmae ? vmaeConfig(configFile, root) : null;
        TokenizerConfig config = vmae ? null : tokenizerConfig(configFile, root);
        Path weights = folder.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new CheckpointException(weights + ": no such file" + (Files.exists(folder.resolve("pytorch_model.bin"))
                    ? " (PyTorch pickles are converted with 'maetok convert')" : ""));
        }
        List<String> ignored = new ArrayList<>();
        try (Safetensors file = Safetensors.open(weights)) {
            Tokenizer t = vmae ? VMAE.load(vmaeConfig, file, parent, mode, ignored) : MAETok.load(config, file, parent, mode, ignored);
            return new Loaded(t, ignored);
        }
    }

    /**
     * What a conversion produced.
     *
     * @param tensors and {@code elements}: what {@code model.safetensors} holds
     * @param ignoredKeys tensors of the file the model does not use (kept in the file, as the reference keeps them)
     */
    public record Conversion(String kind, int tensors, long elements, List<String> ignoredKeys) {}

    /**
     * Converts a PyTorch checkpoint ({@code .pth}/{@code .bin}, read by the restricted {@link TorchCheckpoint}
     * reader, which never runs code from the file) and the reference's {@code config.json} into a checkpoint
     * folder. The folder is built beside {@code out}, loaded once to check that the model finds every tensor it
     * needs with the right shape, and only then moved into place: {@code out} appears whole or not at all, and
     * with {@code replace} an existing folder is swapped out only after the new one is complete.
     *
     * @param key the entry holding the state dict ({@code "model"}), or null to find it
     * @param allowedClasses extra Python classes the pickle may build as inert data (e.g. {@code argparse.Namespace})
     * @param configJson the text of the reference's {@code config.json} (constructor arguments), written as is
     */
    public static Conversion convertTorch(Path source, String key, Set<String> allowedClasses, String configJson, Path out, boolean replace) {
        if (Files.exists(out) && !replace) {
            throw new CheckpointException(out + ": already exists (replace it with --force)");
        }
        Map<String, TorchCheckpoint.TensorData> state = TorchCheckpoint.stateDict(source, key, allowedClasses);
        Path parent = out.toAbsolutePath().getParent();
        Path staging = null;
        try {
            Files.createDirectories(parent);
            staging = Files.createTempDirectory(parent, "." + out.getFileName() + ".converting-");
            Files.writeString(staging.resolve(CONFIG), configJson);
            TorchCheckpoint.writeSafetensors(state, staging.resolve(WEIGHTS));
            Conversion result;
            try (NDManager manager = NDManager.newBaseManager()) {
                Loaded loaded;
                try {
                    loaded = load(staging, manager, StateDict.Mode.LENIENT);
                } catch (CheckpointException | TensorFileException e) { // name the user's files, not the staging folder about to vanish
                    throw new CheckpointException(e.getMessage().replace(staging.resolve(WEIGHTS).toString(), source.toString())
                            .replace(staging.resolve(CONFIG).toString(), "the given config"), e);
                }
                try (Tokenizer t = loaded.tokenizer()) {
                    long elements = state.values().stream().mapToLong(TorchCheckpoint.TensorData::numel).sum();
                    result = new Conversion(t.info().kind(), state.size(), elements, loaded.ignoredKeys());
                }
            }
            if (Files.exists(out)) {
                Path old = Files.createTempDirectory(parent, "." + out.getFileName() + ".replaced-");
                Files.delete(old);
                Files.move(out, old);
                Files.move(staging, out);
                deleteTree(old);
            } else {
                Files.move(staging, out);
            }
            staging = null;
            return result;
        } catch (IOException e) {
            throw new CheckpointException(out + ": cannot write the checkpoint folder: " + e.getMessage(), e);
        } finally {
            if (staging != null) {
                deleteTree(staging);
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warn("{}: could not remove: {}", dir, e.getMessage());
        }
    }

    /** Reads and validates {@code folder/config.json} of a MAETok checkpoint. */
    public static TokenizerConfig readConfig(Path folder) {
        JsonNode root = readJson(folder);
        Path file = folder.resolve(CONFIG);
        if (VmaeConfig.describes(root)) {
            throw new CheckpointException(file + ": describes a VMAE, which has no MAETok configuration");
        }
        return tokenizerConfig(file, root);
    }

    /** The {@code config.json} text of a preset (MAETok or VMAE), as a checkpoint folder of it would hold; null if there is none. */
    public static String presetConfigJson(String name) {
        try {
            if (Presets.exists(name)) {
                return JSON.writeValueAsString(Presets.get(name).toJson()) + "\n";
            }
            VmaeConfig vmae = Presets.vmae(name);
            return vmae == null ? null : JSON.writeValueAsString(vmae.toJson()) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The VMAE configuration of a checkpoint folder (an error naming the file when it holds a MAETok). */
    public static VmaeConfig readVmaeConfig(Path folder) {
        Path file = folder.resolve(CONFIG);
        JsonNode root = readJson(folder);
        if (!VmaeConfig.describes(root)) {
            throw new CheckpointException(file + ": describes a MAETok, not a VMAE");
        }
        return vmaeConfig(file, root);
    }

    /** What {@code maetok info} reports about the folder's tokenizer, from its config alone (no weights are read). */
    public static TokenizerInfo info(Path folder) {
        Path file = folder.resolve(CONFIG);
        JsonNode root = readJson(folder);
        return VmaeConfig.describes(root) ? new VMAE(vmaeConfig(file, root)).info() : new MAETok(tokenizerConfig(file, root)).info();
    }

    private static JsonNode readJson(Path folder) {
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
        return root;
    }

    private static TokenizerConfig tokenizerConfig(Path file, JsonNode root) {
        try {
            return TokenizerConfig.fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage());
        }
    }

    private static VmaeConfig vmaeConfig(Path file, JsonNode root) {
        try {
            return VmaeConfig.fromJson(root);
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
