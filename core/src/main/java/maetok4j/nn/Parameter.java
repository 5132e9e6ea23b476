package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * A named tensor of a {@link Module}: a trainable parameter or a persistent buffer (saved in the state
 * dict, never trained, like the reference's RoPE coordinate buffers). The array is absent until the
 * model is initialised or loaded, so a model can be described (shapes, counts, FLOPs) without memory.
 */
public final class Parameter {

    public enum Kind { PARAMETER, BUFFER }

    private final String name;
    private final Shape shape;
    private final Init init;
    private final Kind kind;
    private final boolean weightDecay;
    private boolean trainable;
    private NDArray array;

    Parameter(String name, Shape shape, Init init, Kind kind, boolean weightDecay) {
        this.name = name;
        this.shape = shape;
        this.init = init;
        this.kind = kind;
        this.weightDecay = weightDecay;
        this.trainable = kind == Kind.PARAMETER;
    }

    /** The local name (last component of the state-dict key). */
    public String name() {
        return name;
    }

    public Shape shape() {
        return shape;
    }

    public Init init() {
        return init;
    }

    public Kind kind() {
        return kind;
    }

    public boolean isBuffer() {
        return kind == Kind.BUFFER;
    }

    /** Whether AdamW's decoupled weight decay applies (not to biases, norms, tokens, tables, RoPE frequencies). */
    public boolean weightDecay() {
        return weightDecay;
    }

    public boolean isTrainable() {
        return trainable;
    }

    public void setTrainable(boolean trainable) {
        if (trainable && kind == Kind.BUFFER) {
            throw new IllegalStateException("buffer '" + name + "' cannot be trained");
        }
        this.trainable = trainable;
    }

    public boolean isInitialized() {
        return array != null;
    }

    /** The value; fails clearly when the model was described but never initialised or loaded. */
    public NDArray array() {
        if (array == null) {
            throw new IllegalStateException("parameter '" + name + "' has no value: initialise or load the model first");
        }
        return array;
    }

    /** Replaces the value; the new array must have this parameter's shape and be float32. */
    public void set(NDArray value) {
        if (!value.getShape().equals(shape)) {
            throw new IllegalArgumentException("parameter '" + name + "': shape " + value.getShape() + " != " + shape);
        }
        if (value.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("parameter '" + name + "': dtype " + value.getDataType() + " != float32");
        }
        if (array != null && array != value) {
            array.close();
        }
        array = value;
    }

    /**
     * Puts {@code value} in place of the current array without closing it and returns the array it replaced
     * (for swapping in averaged weights for a while).
     */
    public NDArray swap(NDArray value) {
        if (!value.getShape().equals(shape)) {
            throw new IllegalArgumentException("parameter '" + name + "': shape " + value.getShape() + " != " + shape);
        }
        NDArray old = array;
        array = value;
        return old;
    }

    public long numel() {
        return shape.size();
    }
}
