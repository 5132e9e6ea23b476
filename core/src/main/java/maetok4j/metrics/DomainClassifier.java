package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.config.Fields;
import maetok4j.nn.BatchNorm;
import maetok4j.nn.Conv2d;
import maetok4j.nn.Init;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.ModuleList;
import maetok4j.nn.NetworkInput;
import maetok4j.nn.StateDict;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.CheckpointException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A small CNN trained to tell the classes of one dataset apart, whose penultimate activations serve as the
 * feature space of a Fréchet distance when InceptionV3 is a poor judge (28-pixel clothes, 64-pixel emoji look
 * nothing like ImageNet). Because the weights are trained here, from a seed, and saved as a checkpoint, the
 * distance is reproducible from the checkpoint; because they are not the standard InceptionV3, its distances
 * are never "FID" ({@link #isFidInception()} is false) and {@link #name()} says which classifier produced them.
 *
 * <p>Architecture: the input is resized (bilinear, {@link NetworkInput}) to {@code image_size}, then one block
 * per width, each {@code conv 3×3 with stride 2 → BatchNorm → ReLU}, so the work per image stays small enough
 * to train on a CPU in about a minute; a global average pool gives the features [B, D] (D the last width) and a linear head the logits [B, K].
 *
 * <p>Checkpoint folder: {@code config.json} ({@link Config}) and {@code model.safetensors} with the state-dict
 * keys {@code features.<i>.conv.weight}, {@code features.<i>.norm.{weight,bias,running_mean,running_var,
 * num_batches_tracked}}, {@code head.weight}, {@code head.bias}.
 */
public final class DomainClassifier extends Module implements FeatureNetwork {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    static final String KIND = "domain-classifier";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * What {@code config.json} holds: enough to rebuild the network, plus where it came from.
     *
     * @param dataset the data source the classifier was trained on, as the user named it
     * @param imageSize side the input is resized to
     * @param widths channels of the conv blocks; the last is the feature width D
     * @param classNames the K class names, in label order
     * @param seed the seed of the initial weights and of every random choice in training
     * @param valAccuracy accuracy on the held-out split, or null before training
     */
    public record Config(String dataset, int imageSize, List<Integer> widths, List<String> classNames, long seed, Double valAccuracy) {

        public Config {
            require(dataset != null && !dataset.isBlank(), "dataset", "must name the training data");
            require(imageSize >= 8 && imageSize <= 1024, "image_size", "must be in [8, 1024], got " + imageSize);
            require(widths != null && !widths.isEmpty(), "widths", "must list at least one block width");
            for (Integer w : widths) {
                require(w != null && w > 0 && w <= 4096, "widths", "must be positive (at most 4096), got " + widths);
            }
            require(imageSize >> widths.size() >= 1, "widths",
                    widths.size() + " blocks halve image_size " + imageSize + " below one pixel");
            require(classNames != null && classNames.size() >= 2, "class_names", "a classifier needs at least 2 classes, got "
                    + (classNames == null ? 0 : classNames.size()));
            require(valAccuracy == null || (valAccuracy >= 0 && valAccuracy <= 1), "val_accuracy", "must be in [0, 1], got " + valAccuracy);
            widths = List.copyOf(widths);
            classNames = List.copyOf(classNames);
        }

        private static void require(boolean ok, String field, String problem) {
            if (!ok) {
                throw new IllegalArgumentException("field '" + field + "' " + problem);
            }
        }

        /** K. */
        public int classes() {
            return classNames.size();
        }

        /** D, the width of the pooled features. */
        public int featureDim() {
            return widths.get(widths.size() - 1);
        }

        public Config withValAccuracy(double accuracy) {
            return new Config(dataset, imageSize, widths, classNames, seed, accuracy);
        }

        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("kind", KIND).put("dataset", dataset).put("image_size", imageSize);
            widths.forEach(o.putArray("widths")::add);
            o.put("classes", classes());
            classNames.forEach(o.putArray("class_names")::add);
            o.put("seed", seed);
            if (valAccuracy != null) {
                o.put("val_accuracy", valAccuracy);
            }
            return o;
        }

        /** Reads a parsed {@code config.json}; messages name the field (the caller adds the file). */
        public static Config fromJson(JsonNode root) {
            if (root == null || !root.isObject()) {
                throw new IllegalArgumentException("must be a JSON object");
            }
            Fields f = new Fields((ObjectNode) root, null);
            String kind = f.string("kind");
            if (!kind.equals(KIND)) {
                throw new IllegalArgumentException("field 'kind' must be '" + KIND + "', got '" + kind + "'");
            }
            String dataset = f.string("dataset");
            int imageSize = f.integer("image_size");
            List<Integer> widths = integers(f.get("widths"), "widths");
            int classes = f.integer("classes");
            List<String> names = f.stringList("class_names");
            if (names.size() != classes) {
                throw new IllegalArgumentException("field 'class_names' has " + names.size() + " names but 'classes' is " + classes);
            }
            long seed = f.longInteger("seed");
            Double accuracy = f.optionalNumber("val_accuracy");
            f.rejectUnknown();
            return new Config(dataset, imageSize, widths, names, seed, accuracy);
        }

        private static List<Integer> integers(JsonNode v, String field) {
            if (v == null || !v.isArray()) {
                throw new IllegalArgumentException("field '" + field + "' must be a list of integers, got " + v);
            }
            List<Integer> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                    throw new IllegalArgumentException("field '" + field + "' must be a list of integers, got " + v);
                }
                out.add(e.asInt());
            }
            return out;
        }
    }

    /** One stage: {@code conv 3×3 stride 2 (no bias: the norm's shift replaces it) → BatchNorm → ReLU}. */
    private static final class ConvBlock extends Module {

        private final Conv2d conv;
        private final BatchNorm norm;

        ConvBlock(int in, int out) {
            // He initialisation, the usual start for ReLU networks (PyTorch's default is smaller by sqrt(6))
            conv = child("conv", new Conv2d(in, out, 3, 2, 1, false, Init.normal(Math.sqrt(2.0 / (in * 9)))));
            norm = child("norm", new BatchNorm(out));
        }

        /** [B, in, H, W] → [B, out, ⌈H/2⌉, ⌈W/2⌉]. */
        NDArray forward(NDArray x) {
            return Activation.relu(norm.forward(conv.forward(x)));
        }
    }

    private Config config; // replaced once, when training records the held-out accuracy
    private final NetworkInput input;
    private final ModuleList<ConvBlock> features;
    private final Linear head;
    private NDManager manager;
    private Path folder; // where the weights were loaded from or last saved to, for the name

    private DomainClassifier(Config config) {
        this.config = config;
        // the network learns on images in [-1, 1] as they are: no normalisation, only the resize to image_size
        this.input = new NetworkInput(new float[] {0, 0, 0}, new float[] {1, 1, 1}, config.imageSize());
        List<ConvBlock> blocks = new ArrayList<>();
        int in = 3;
        for (int i = 0; i < config.widths().size(); i++) {
            blocks.add(new ConvBlock(in, config.widths().get(i)));
            in = config.widths().get(i);
        }
        features = child("features", new ModuleList<>(blocks));
        head = child("head", new Linear(in, config.classes()));
    }

    /** A classifier with fresh weights drawn from {@code config.seed()}, owning its native memory. */
    public static DomainClassifier create(Config config) {
        Engines.configure();
        DomainClassifier c = new DomainClassifier(config);
        c.manager = NDManager.newBaseManager();
        c.initialize(c.manager, config.seed());
        return c;
    }

    /**
     * Loads a checkpoint folder written by {@link #save}.
     *
     * @throws CheckpointException one line naming the file and the problem
     */
    public static DomainClassifier load(Path folder) {
        Config config = readConfig(folder);
        Path weights = folder.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new CheckpointException(weights + ": no such file");
        }
        Engines.configure();
        DomainClassifier c = new DomainClassifier(config);
        c.manager = NDManager.newBaseManager();
        try (Safetensors file = Safetensors.open(weights)) {
            StateDict.load(c, file, c.manager, StateDict.Mode.STRICT);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        c.folder = folder;
        return c;
    }

    /** Reads and validates {@code folder/config.json}. */
    public static Config readConfig(Path folder) {
        Path file = folder.resolve(CONFIG);
        if (!Files.isDirectory(folder) || !Files.isRegularFile(file)) {
            throw new CheckpointException(folder + ": not a domain-classifier folder (expected " + CONFIG + " and " + WEIGHTS + ")");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage());
        }
        try {
            return Config.fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage());
        }
    }

    /** Writes the weights, then the config, each atomically (a config never names weights that are not there yet). */
    public void save(Path folder) {
        StateDict.save(this, folder.resolve(WEIGHTS));
        try {
            AtomicFiles.writeString(folder.resolve(CONFIG), JSON.writeValueAsString(config.toJson()) + "\n");
        } catch (JsonProcessingException e) {
            throw new CheckpointException(folder.resolve(CONFIG) + ": cannot serialise config: " + e.getMessage());
        }
        this.folder = folder;
    }

    public Config config() {
        return config;
    }

    /** Records the held-out accuracy training measured, for the config a {@link #save} writes. */
    void recordValAccuracy(double accuracy) {
        config = config.withValAccuracy(accuracy);
    }

    /**
     * images [B, 3, H, W] in [-1, 1] → logits [B, K], recording the autograd graph when gradients are collected
     * (training); arrays made here belong to the images' manager.
     */
    public NDArray logits(NDArray images) {
        return head.forward(features(images));
    }

    /** images [B, 3, H, W] in [-1, 1] → pooled penultimate activations [B, D]. */
    private NDArray features(NDArray images) {
        NDArray x = input.apply(images); // [B, 3, S, S]
        for (ConvBlock block : features) {
            x = block.forward(x); // [B, w_i, S/2^(i+1), S/2^(i+1)]
        }
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), -1).mean(new int[] {2}); // [B, D] (DJL's mean takes one axis)
    }

    @Override
    public String name() {
        return "domain classifier " + config.dataset() + " " + config.imageSize() + "px ("
                + (folder == null ? "not saved" : folder.toString()) + "; not InceptionV3)";
    }

    @Override
    public boolean isFidInception() {
        return false;
    }

    @Override
    public int featureDim() {
        return config.featureDim();
    }

    @Override
    public int classes() {
        return config.classes();
    }

    /** Features and logits in evaluation mode (BatchNorm on its running statistics), whatever mode the network is in. */
    @Override
    public Activations extract(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || s.get(1) != 3) {
            throw new IllegalArgumentException(name() + ": expected images [B, 3, H, W], got " + s);
        }
        if (images.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(name() + ": images must be float32, got " + images.getDataType());
        }
        int batch = Math.toIntExact(s.get(0));
        int d = featureDim();
        int k = classes();
        boolean wasTraining = isTraining();
        train(false);
        try (NDArray both = scoped(images, x -> {
            NDArray f = features(x); // [B, D]
            return f.concat(head.forward(f), 1); // [B, D + K]
        })) {
            float[] all = both.toFloatArray();
            float[] feats = new float[batch * d];
            float[] logits = new float[batch * k];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(all, b * (d + k), feats, b * d, d);
                System.arraycopy(all, b * (d + k) + d, logits, b * k, k);
            }
            return new Activations(batch, d, feats, logits);
        } finally {
            train(wasTraining);
        }
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
