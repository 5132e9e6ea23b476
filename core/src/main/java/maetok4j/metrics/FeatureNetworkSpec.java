package maetok4j.metrics;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import maetok4j.nn.NetworkInput;
import maetok4j.nn.Sidecar;

import java.nio.file.Path;

/**
 * How to use an exported feature network, read from the sidecar {@code NAME.json} beside {@code NAME.pt} or
 * {@code NAME.onnx}:
 * <pre>{@code
 * {"kind": "features", "name": "pytorch-fid InceptionV3", "fid_inception": true,
 *  "input": {"shift": [-1, -1, -1], "scale": [2, 2, 2]}   (or {"mean": [..], "std": [..]}),
 *  "image_size": 299, "features_output": 0, "logits_output": 1, "dim": 2048, "classes": 1008}
 * }</pre>
 * The network is exported from PyTorch once (docs/feature-networks.md), so the sidecar is what records which
 * network it is, how it wants its pixels, and which of its outputs are the features and the logits. Only
 * {@code kind}, {@code input} and {@code dim} are required: {@code name} defaults to the network's file name,
 * {@code fid_inception} to false, {@code image_size} to 0 (images fed at their own size), {@code features_output}
 * to 0, and without {@code logits_output} the network has no logits (then {@code classes} must be absent too).
 *
 * @param name what reports name the numbers after
 * @param fidInception true only for the standard FID InceptionV3 (only its Fréchet distance may be called "FID")
 * @param input [-1, 1] images → network input (normalisation and resize)
 * @param featuresOutput index of the features among the network's outputs
 * @param logitsOutput index of the logits, or {@link #NO_LOGITS}
 * @param dim feature width D
 * @param classes number of logits K, 0 without logits
 */
public record FeatureNetworkSpec(String name, boolean fidInception, NetworkInput input, int featuresOutput, int logitsOutput,
        int dim, int classes) {

    /** {@link #logitsOutput()} of a network without logits. */
    public static final int NO_LOGITS = -1;

    public FeatureNetworkSpec {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a feature network needs a name");
        }
        if (input == null || input.channels() != 3) {
            throw new IllegalArgumentException("a feature network needs an input normalisation for 3 channels, got " + input);
        }
        if (featuresOutput < 0 || logitsOutput < NO_LOGITS || featuresOutput == logitsOutput) {
            throw new IllegalArgumentException("need features_output >= 0 and a different logits_output >= 0 (or none), got "
                    + featuresOutput + " and " + logitsOutput);
        }
        if (dim <= 0) {
            throw new IllegalArgumentException("dim must be positive, got " + dim);
        }
        if ((logitsOutput == NO_LOGITS) != (classes == 0) || classes < 0) {
            throw new IllegalArgumentException("classes must be positive exactly when there is a logits output, got logits_output "
                    + logitsOutput + " and classes " + classes);
        }
    }

    public boolean hasLogits() {
        return logitsOutput != NO_LOGITS;
    }

    /** Reads the sidecar of {@code network} ({@link Sidecar#besides}); the name defaults to the network's file name. */
    public static FeatureNetworkSpec forNetwork(Path network) {
        return fromJson(Sidecar.besides(network), network.getFileName().toString());
    }

    /**
     * Reads a {@code "kind": "features"} sidecar; every problem is one line naming the file and the field.
     *
     * @param defaultName the name when the sidecar has none
     */
    public static FeatureNetworkSpec fromJson(Path json, String defaultName) {
        Sidecar s = Sidecar.read(json, "features",
                "name", "fid_inception", "input", "image_size", "features_output", "logits_output", "dim", "classes");
        String name = s.text("name");
        NetworkInput input = NetworkInput.fromJson(s, "input", s.root.path("input"), s.integer("image_size", 0, 0));
        int featuresOutput = s.integer("features_output", 0, 0);
        int logitsOutput = s.integer("logits_output", NO_LOGITS, 0);
        int dim = s.requiredInteger("dim", 1);
        int classes;
        if (logitsOutput == NO_LOGITS) {
            if (s.root.hasNonNull("classes")) {
                throw s.error("classes", "needs logits_output (which output holds the logits)");
            }
            classes = 0;
        } else {
            if (logitsOutput == featuresOutput) {
                throw s.error("logits_output", "must differ from features_output (" + featuresOutput + ")");
            }
            classes = s.requiredInteger("classes", 1);
        }
        return new FeatureNetworkSpec(name == null ? defaultName : name, flag(s, "fid_inception"), input, featuresOutput, logitsOutput,
                dim, classes);
    }

    private static boolean flag(Sidecar s, String field) {
        JsonNode node = s.root.get(field);
        if (node == null || node.isNull()) {
            return false;
        }
        if (!node.isBoolean()) {
            throw s.error(field, "must be true or false, got " + node);
        }
        return node.asBoolean();
    }

    /**
     * Checks that output {@code index} of {@code network} is [B, width] or [B, width, 1, 1] (pytorch-fid's pooled
     * map); both hold the same row-major [B, width] values, so callers copy them as they are.
     *
     * @param role "features" or "logits", for the message
     * @throws IllegalArgumentException naming the network file, the output and its shape
     */
    void checkOutput(Path network, String role, int index, long[] shape, long batch, int width) {
        boolean rows = shape.length == 2 || (shape.length == 4 && shape[2] == 1 && shape[3] == 1);
        if (!rows || shape[0] != batch || shape[1] != width) {
            String field = role.equals("features") ? "dim" : "classes";
            throw new IllegalArgumentException(network + ": output " + index + " (" + role + ") is " + new Shape(shape) + ", expected ("
                    + batch + ", " + width + ") or (" + batch + ", " + width + ", 1, 1) as the sidecar's '" + field + "' says");
        }
    }

    /** @throws IllegalArgumentException naming the network file if it returns too few outputs for the sidecar */
    void checkOutputCount(Path network, int outputs) {
        int needed = Math.max(featuresOutput, logitsOutput) + 1;
        if (outputs < needed) {
            String field = featuresOutput > logitsOutput ? "features_output" : "logits_output";
            throw new IllegalArgumentException(network + ": the sidecar's '" + field + "' is " + (needed - 1) + " but the network returns "
                    + outputs + " output(s)");
        }
    }
}
