package maetok4j.metrics;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Opens the feature network a user names on the command line or in a config: the one place that decides, from
 * the path alone, which implementation of {@link FeatureNetwork} runs it.
 */
public final class FeatureNetworks {

    private FeatureNetworks() {}

    /**
     * {@code NAME.onnx} runs on ONNX Runtime ({@link OnnxFeatures}); any other file ({@code .pt}, {@code .pth},
     * {@code .torchscript}) is TorchScript run by libtorch ({@link TorchScriptFeatures}). Either way the sidecar
     * {@code NAME.json} beside it ({@link FeatureNetworkSpec}) is required and read first. A folder is a
     * {@link DomainClassifier} checkpoint.
     *
     * @throws IllegalArgumentException one line naming the file (or the sidecar and its field) for any problem
     */
    public static FeatureNetwork load(Path file) {
        if (Files.isDirectory(file)) {
            return loadDirectory(file);
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": no such feature network (a .pt or .onnx file with a .json beside it)");
        }
        FeatureNetworkSpec spec = FeatureNetworkSpec.forNetwork(file);
        return isOnnx(file) ? OnnxFeatures.load(file, spec) : TorchScriptFeatures.load(file, spec);
    }

    /** A directory is a checkpoint of a network maetok4j trains itself: a domain classifier ({@code eval train-features}). */
    private static FeatureNetwork loadDirectory(Path dir) {
        if (!Files.isRegularFile(dir.resolve(DomainClassifier.CONFIG))) {
            throw new IllegalArgumentException(dir + ": a directory without " + DomainClassifier.CONFIG
                    + "; feature networks are a .pt/.onnx file with a .json beside it, or a folder from 'maetok eval train-features'");
        }
        return DomainClassifier.load(dir);
    }

    private static boolean isOnnx(Path file) {
        return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx");
    }
}
