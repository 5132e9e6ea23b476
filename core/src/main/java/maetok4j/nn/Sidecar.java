package maetok4j.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The small JSON file that says how to use a pretrained network ({@code NAME.json} next to {@code NAME.pt}).
 * Users write these by hand, so every problem is reported as one line naming the file and the field, and
 * unknown fields are errors (a misspelt optional field would otherwise be silently ignored).
 */
public final class Sidecar {

    private static final ObjectMapper JSON = new ObjectMapper();

    public final Path file;
    public final JsonNode root;

    private Sidecar(Path file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    /** {@code dir/NAME.pt} → {@code dir/NAME.json} (the last extension replaced, or ".json" appended). */
    public static Path besides(Path network) {
        String name = network.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return network.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".json");
    }

    /** Reads the file and checks its {@code kind} and that it has no fields besides {@code allowed}. */
    public static Sidecar read(Path file, String kind, String... allowed) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": no such file (the JSON that describes the network)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        Sidecar s = new Sidecar(file, root);
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": must hold a JSON object");
        }
        List<String> keys = new ArrayList<>(List.of(allowed));
        keys.add("kind");
        s.allowOnly(null, root, keys.toArray(String[]::new));
        JsonNode k = root.get("kind");
        if (k == null || !k.isTextual() || !k.asText().equals(kind)) {
            throw s.error("kind", "must be \"" + kind + "\", got " + (k == null ? "nothing" : k.toString()));
        }
        return s;
    }

    public IllegalArgumentException error(String field, String problem) {
        return new IllegalArgumentException(file + ": '" + field + "' " + problem);
    }

    public void allowOnly(String parent, JsonNode node, String... allowed) {
        Set<String> ok = Set.of(allowed);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!ok.contains(name)) {
                throw error(parent == null ? name : parent + "." + name, "is not a known field (known: " + String.join(", ", allowed) + ")");
            }
        }
    }

    /** Exactly {@code n} finite numbers ({@code n < 0}: any non-zero count). */
    public double[] numbers(String field, JsonNode node, int n) {
        if (node == null || !node.isArray() || (n >= 0 ? node.size() != n : node.size() == 0)) {
            throw error(field, "must be a list of " + (n >= 0 ? n + " numbers" : "numbers") + ", got " + (node == null ? "nothing" : node.toString()));
        }
        double[] v = new double[node.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode e = node.get(i);
            if (!e.isNumber() || !Double.isFinite(e.asDouble())) {
                throw error(field, "entry " + i + " is not a finite number: " + e);
            }
            v[i] = e.asDouble();
        }
        return v;
    }

    /** An optional integer field at least {@code min}; {@code absent} if it is missing or null. */
    public int integer(String field, int absent, int min) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return absent;
        }
        if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < min) {
            throw error(field, "must be an integer >= " + min + ", got " + node);
        }
        return node.asInt();
    }

    /** A required integer field at least {@code min}. */
    public int requiredInteger(String field, int min) {
        if (!root.has(field) || root.get(field).isNull()) {
            throw error(field, "is required (an integer >= " + min + ")");
        }
        return integer(field, 0, min);
    }

    /** An optional string field; null if missing. */
    public String text(String field) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual() || node.asText().isBlank()) {
            throw error(field, "must be a non-empty string, got " + node);
        }
        return node.asText();
    }
}
