package maetok4j.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.latents.LatentNormalization;
import maetok4j.nn.StateDict;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tokenizer.CheckpointException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A diffusion model folder: the reference's {@code config.json} and {@code model.safetensors} (so the PyTorch code
 * loads it with {@code SiT.from_pretrained}), plus {@code latents.json}, this project's record of the latent space the
 * model was trained on: the normalisation to undo before decoding, the class names, and the tokenizer that made the
 * latents. A folder without {@code latents.json} (a reference checkpoint) samples un-normalised latents.
 */
public final class DiffusionCheckpoint {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String LATENTS = "latents.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * What the model's latents are.
     *
     * @param normalization applied to the tokenizer's latents before training; inverted before decoding
     * @param classes class names by label (may be empty)
     * @param tokenizer the tokenizer folder the latents came from, as given when training (may be null)
     */
    public record Latents(LatentNormalization normalization, List<String> classes, String tokenizer) {
        public Latents {
            classes = List.copyOf(classes);
        }
    }

    private DiffusionCheckpoint() {}

    /** Writes the three files, each atomically; {@code latents} may be null for a bare model. */
    public static void save(Path folder, SiT model, Latents latents) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new CheckpointException(folder + ": cannot create the folder: " + e.getMessage());
        }
        StateDict.save(model, folder.resolve(WEIGHTS));
        AtomicFiles.writeString(folder.resolve(CONFIG), pretty(model.config().toJson()));
        if (latents != null) {
            ObjectNode o = JSON.createObjectNode();
            o.set("normalization", latents.normalization().toJson());
            latents.classes().forEach(o.putArray("classes")::add);
            if (latents.tokenizer() != null) {
                o.put("tokenizer", latents.tokenizer());
            }
            AtomicFiles.writeString(folder.resolve(LATENTS), pretty(o));
        }
    }

    /** The folder's {@code latents.json}, or null when it has none. */
    public static Latents readLatents(Path folder) {
        Path file = folder.resolve(LATENTS);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.has("normalization")) {
            throw new CheckpointException(file + ": needs 'normalization'");
        }
        try {
            LatentNormalization n = LatentNormalization.fromJson(root.get("normalization"), file + " normalization");
            List<String> classes = new ArrayList<>();
            root.path("classes").forEach(c -> classes.add(c.asText()));
            return new Latents(n, classes, root.hasNonNull("tokenizer") ? root.get("tokenizer").asText() : null);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(e.getMessage());
        }
    }

    private static String pretty(JsonNode node) {
        try {
            return JSON.writeValueAsString(node) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
