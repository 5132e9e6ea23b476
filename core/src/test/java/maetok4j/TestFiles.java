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
        return relativeError(x, y);
    }

    /** ||a - b|| / ||b|| in float64. */
    public static double relativeError(float[] a, float[] b) {
        double[] want = new double[b.length];
        for (int i = 0; i < b.length; i++) {
            want[i] = b[i];
        }
        return relativeError(a, want);
    }

    /** ||got - want|| / ||want|| in float64, against a float64 expectation (a sum computed in the test). */
    public static double relativeError(float[] got, double[] want) {
        if (got.length != want.length) {
            throw new AssertionError("sizes differ: " + got.length + " vs " + want.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
