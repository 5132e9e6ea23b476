package maetok4j.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The real datasets that ship inside the library (classpath {@code maetok4j/datasets/}), so that everything
 * runs with no download. Each folder has its license and a README naming the source and checksums.
 */
public final class BundledDatasets {

    /** Name → (images file, labels file, description). */
    private static final Map<String, String[]> BUNDLED = new LinkedHashMap<>();

    static {
        BUNDLED.put("emoji-noto-64", new String[] {"images-idx4-ubyte.gz", "labels-idx1-ubyte.gz",
            "1,906 Noto colour emoji, 64x64 RGB, 9 Unicode categories (Apache-2.0)"});
        BUNDLED.put("fashion-mnist-test", new String[] {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
            "Fashion-MNIST test split, 10,000 28x28 gray, 10 classes (MIT)"});
    }

    private BundledDatasets() {}

    /** Bundled dataset names with a one-line description. */
    public static Map<String, String> list() {
        Map<String, String> out = new LinkedHashMap<>();
        BUNDLED.forEach((k, v) -> out.put(k, v[2]));
        return out;
    }

    public static boolean exists(String name) {
        return BUNDLED.containsKey(name);
    }

    public static Dataset open(String name) {
        String[] files = BUNDLED.get(name);
        if (files == null) {
            throw new ImageFileException("no bundled dataset '" + name + "' (" + String.join(", ", BUNDLED.keySet()) + ")");
        }
        return new IdxDataset(name, idx(name, files[0]), idx(name, files[1]), lines(name, "classes.txt"));
    }

    private static IdxFile idx(String dataset, String file) {
        try (InputStream in = resource(dataset, file)) {
            return IdxFile.read("bundled:" + dataset + "/" + file, in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> lines(String dataset, String file) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(resource(dataset, file), StandardCharsets.UTF_8))) {
            return r.lines().filter(l -> !l.isBlank()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InputStream resource(String dataset, String file) {
        InputStream in = BundledDatasets.class.getResourceAsStream("/maetok4j/datasets/" + dataset + "/" + file);
        if (in == null) {
            throw new IllegalStateException("bundled file " + dataset + "/" + file + " is missing from the classpath");
        }
        return in;
    }
}
