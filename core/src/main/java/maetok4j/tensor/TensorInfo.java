package maetok4j.tensor;

import java.util.Arrays;

/**
 * One entry of a safetensors header: dtype name ("F32", ...), shape, and byte range {@code [begin, end)} of the
 * data section. Validated by {@link Safetensors#open}; the shape is copied in and out, so an entry cannot be
 * changed into one that no longer matches its bytes.
 */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements: 1 for a scalar (shape []), 0 if any dimension is 0. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype.equals(t.dtype) && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
