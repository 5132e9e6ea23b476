package maetok4j.tensor;

import java.util.Arrays;

/** One entry of a safetensors header: dtype name ("F32", ...), shape, and byte range in the data section. */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
