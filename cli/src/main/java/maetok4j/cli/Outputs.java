package maetok4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import maetok4j.data.ImageFiles;
import maetok4j.data.ImageTensors;
import maetok4j.tensor.SafetensorsWriter;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where decoded images go: a safetensors file (key {@code images}, written as batches arrive and made
 * visible only when complete) or a folder of PNGs, one per image, each written atomically.
 */
final class Outputs implements AutoCloseable {

    private final Path out;
    private final SafetensorsWriter writer;
    private final List<String> names;

    private Outputs(Path out, SafetensorsWriter writer, List<String> names) {
        this.out = out;
        this.writer = writer;
        this.names = names;
    }

    static boolean isTensorFile(Path out) {
        return out.getFileName().toString().endsWith(".safetensors");
    }

    /** Opens the destination for {@code names.size()} images of the given side; fails early on an unusable path. */
    static Outputs images(Path out, List<String> names, int imageSize, Map<String, String> metadata) {
        if (isTensorFile(out)) {
            return new Outputs(out, SafetensorsWriter.create(out, Map.of("images",
                    new SafetensorsWriter.Spec(DataType.FLOAT32, names.size(), 3, imageSize, imageSize)), metadata), names);
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException(out + ": exists and is not a folder (name a folder for PNGs or a .safetensors file)");
        }
        try {
            Files.createDirectories(out);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(out + ": cannot create folder: " + e.getMessage());
        }
        return new Outputs(out, null, names);
    }

    /** Stores images [n, 3, S, S] in [-1, 1] as rows {@code [first, first+n)}. */
    void put(int first, NDArray images) {
        if (writer != null) {
            // decoders overshoot; an images tensor holds [-1, 1], which is what every reader of it checks
            writer.write("images", first, images.clip(-1, 1));
            return;
        }
        List<BufferedImage> pngs = ImageTensors.toImages(images);
        for (int i = 0; i < pngs.size(); i++) {
            ImageFiles.writePng(pngs.get(i), out.resolve(names.get(first + i) + ".png"));
        }
    }

    void commit() {
        if (writer != null) {
            writer.commit();
        }
    }

    @Override
    public void close() {
        if (writer != null) {
            writer.close();
        }
    }
}
