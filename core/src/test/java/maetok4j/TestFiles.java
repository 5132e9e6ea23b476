package maetok4j;

import ai.djl.ndarray.NDArray;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Shared helpers for tests: resources on disk and tensor comparison. */
public final class TestFiles {

    private TestFiles() {}

    public static Path resource(String name) {
        try {
            var url = TestFiles.class.getResource("/" + name);
            if (url == null) {
                throw new IllegalArgumentException("no test resource " + name);
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** ||a - b|| / ||b|| in float64. */
    public static double relativeError(NDArray a, NDArray b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        if (x.length != y.length) {
            throw new AssertionError("sizes differ: " + a.getShape() + " vs " + b.getShape());
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (double) x[i] - y[i];
            num += d * d;
            den += (double) y[i] * y[i];
        }
        return Math.sqrt(num / den);
    }
}
