package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;

/**
 * A feature network exported with {@code torch.onnx.export}, run by ONNX Runtime (inference only). ONNX is the
 * route for networks exported by a PyTorch newer than the libtorch maetok4j runs, or by another framework.
 *
 * <p>The images are preprocessed on DJL arrays ({@link maetok4j.nn.NetworkInput}, the same code as the TorchScript
 * route), copied to a float32 NCHW tensor for the model's single input, and the outputs are read by index. A model
 * with a fixed input size or channel count is checked against the sidecar when loaded; a fixed batch size is
 * reported when a batch of another size arrives (export with a dynamic batch axis to avoid it). One caller at a
 * time: the input memory is reused from batch to batch.
 */
public final class OnnxFeatures implements SpecifiedFeatureNetwork {

    private static final String TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY";

    /** Dynamic dimensions are -1 in ONNX Runtime's shapes. */
    private static final long DYNAMIC = -1;

    private final Path file;
    private final FeatureNetworkSpec spec;
    private final OrtSession session;
    private final String inputName;
    private final long[] inputShape; // [N, C, H, W], -1 where dynamic
    /** Reused input memory: ONNX Runtime reads a direct buffer in place, where a heap buffer costs a fresh copy per batch. */
    private FloatBuffer staging = FloatBuffer.allocate(0);

    private OnnxFeatures(Path file, FeatureNetworkSpec spec, OrtSession session, String inputName, long[] inputShape) {
        this.file = file;
        this.spec = spec;
        this.session = session;
        this.inputName = inputName;
        this.inputShape = inputShape;
    }

    /**
     * The process's one ONNX Runtime environment, created with telemetry off. The non-Windows builds of 1.29 start an
     * uploader when the environment is created (writing a device id under ~/.cache/Microsoft and a {@code .ses}
     * session file) unless {@code ORT_DISABLE_TELEMETRY=1} is in the process environment by then;
     * {@code setTelemetry(false)} afterwards only stops later events. Java cannot change its own environment, so
     * libc's {@code setenv} sets the variable first, unless the user has set it.
     */
    private static final class Environment {
        static final OrtEnvironment INSTANCE = create();

        private interface Libc extends Library {
            int setenv(String name, String value, int overwrite);
        }

        private static OrtEnvironment create() {
            if (!Platform.isWindows() && System.getenv(TELEMETRY_VARIABLE) == null) {
                Native.load("c", Libc.class).setenv(TELEMETRY_VARIABLE, "1", 0);
            }
            OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "maetok4j");
            try {
                env.setTelemetry(false);
            } catch (OrtException e) {
                throw new IllegalStateException("ONNX Runtime: cannot disable telemetry: " + e.getMessage(), e);
            }
            return env;
        }
    }

    /** @throws IllegalArgumentException naming the file if ONNX Runtime cannot load it or its input does not fit the sidecar */
    public static OnnxFeatures load(Path file, FeatureNetworkSpec spec) {
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            // idle threads sleep instead of spinning between batches, leaving the cores to decoding and the tokenizer
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            session = Environment.INSTANCE.createSession(file.toAbsolutePath().toString(), options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(file + ": not an ONNX model ONNX Runtime can load (" + firstLine(e.getMessage()) + ")", e);
        }
        try {
            NodeInfo input = checkInput(file, spec, session);
            spec.checkOutputCount(file, Math.toIntExact(session.getNumOutputs()));
            return new OnnxFeatures(file, spec, session, input.getName(), ((TensorInfo) input.getInfo()).getShape());
        } catch (OrtException e) {
            closeQuietly(session, e);
            throw new IllegalArgumentException(file + ": cannot read the model's inputs (" + firstLine(e.getMessage()) + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(session, e);
            throw e;
        }
    }

    /** The model must take one float32 [N, 3, H, W] input, with H = W = image_size where both are fixed. */
    private static NodeInfo checkInput(Path file, FeatureNetworkSpec spec, OrtSession session) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(file + ": a feature network takes one input (the images), this model takes "
                    + inputs.size() + ": " + inputs.keySet());
        }
        NodeInfo node = inputs.values().iterator().next();
        ValueInfo info = node.getInfo();
        if (!(info instanceof TensorInfo t) || t.type != OnnxJavaType.FLOAT || t.getShape().length != 4) {
            throw new IllegalArgumentException(file + ": input '" + node.getName() + "' must be a float32 tensor [N, 3, H, W], got " + info);
        }
        long[] shape = t.getShape();
        if (fixedAndNot(shape[1], spec.input().channels())) {
            throw new IllegalArgumentException(file + ": input '" + node.getName() + "' has " + shape[1] + " channels, images have "
                    + spec.input().channels());
        }
        int size = spec.input().size();
        if (size > 0 && (fixedAndNot(shape[2], size) || fixedAndNot(shape[3], size))) {
            throw new IllegalArgumentException(file + ": input '" + node.getName() + "' is fixed at " + shape[2] + "x" + shape[3]
                    + " but the sidecar's 'image_size' is " + size);
        }
        return node;
    }

    private static boolean fixedAndNot(long dim, long value) {
        return dim != DYNAMIC && dim != value;
    }

    @Override
    public FeatureNetworkSpec spec() {
        return spec;
    }

    @Override
    public Activations extract(NDArray images) {
        int batch = Math.toIntExact(images.getShape().get(0));
        if (batch == 0) {
            return none();
        }
        long[] shape;
        float[] pixels;
        try (NDManager scope = images.getManager().newSubManager()) {
            NDArray x = images.stopGradient(); // [B, 3, H, W]
            x.attach(scope);
            NDArray input = spec.input().apply(x); // [B, 3, S, S]
            shape = input.getShape().getShape();
            pixels = input.toType(DataType.FLOAT32, false).toFloatArray();
        }
        checkBatchAndSize(shape);
        try (OnnxTensor tensor = OnnxTensor.createTensor(Environment.INSTANCE, stage(pixels), shape);
                OrtSession.Result result = session.run(Map.of(inputName, tensor))) {
            float[] features = rows(result, spec.featuresOutput(), "features", batch, spec.dim()); // [B, D]
            float[] logits = spec.hasLogits() ? rows(result, spec.logitsOutput(), "logits", batch, spec.classes()) : null; // [B, K]
            return new Activations(batch, spec.dim(), features, logits);
        } catch (OrtException e) {
            throw new IllegalStateException(file + ": ONNX Runtime failed on a batch of " + new Shape(shape) + " ("
                    + firstLine(e.getMessage()) + ")", e);
        }
    }

    private FloatBuffer stage(float[] pixels) {
        if (staging.capacity() < pixels.length) {
            staging = ByteBuffer.allocateDirect(Float.BYTES * pixels.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
        }
        staging.clear();
        staging.put(pixels).flip();
        return staging;
    }

    private void checkBatchAndSize(long[] shape) {
        if (fixedAndNot(inputShape[0], shape[0])) {
            throw new IllegalArgumentException(file + ": the model was exported for batches of exactly " + inputShape[0] + ", got "
                    + shape[0] + " (export with dynamic_axes={'images': {0: 'batch'}})");
        }
        if (fixedAndNot(inputShape[2], shape[2]) || fixedAndNot(inputShape[3], shape[3])) {
            throw new IllegalArgumentException(file + ": the model takes " + inputShape[2] + "x" + inputShape[3] + " images, got "
                    + shape[2] + "x" + shape[3] + " (set 'image_size' in the sidecar to resize them)");
        }
    }

    private float[] rows(OrtSession.Result result, int index, String role, int batch, int width) {
        OnnxValue value = result.get(index);
        if (!(value instanceof OnnxTensor t) || t.getInfo().type != OnnxJavaType.FLOAT) {
            throw new IllegalArgumentException(file + ": output " + index + " (" + role + ") must be a float32 tensor, got " + value.getInfo());
        }
        spec.checkOutput(file, role, index, t.getInfo().getShape(), batch, width);
        FloatBuffer data = t.getFloatBuffer(); // a copy, in row-major order
        float[] rows = new float[data.remaining()];
        data.get(rows);
        return rows;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        return message.lines().findFirst().orElse("").strip();
    }

    private static void closeQuietly(OrtSession session, Exception cause) {
        try {
            session.close();
        } catch (OrtException e) {
            cause.addSuppressed(e);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(file + ": ONNX Runtime could not close the session (" + firstLine(e.getMessage()) + ")", e);
        }
    }

    @Override
    public String toString() {
        return "OnnxFeatures(" + file + ", " + spec.name() + ")";
    }
}
