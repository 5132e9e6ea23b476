package maetok4j.data;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a dataset from what a user names: a bundled dataset, a tensor file, a CIFAR folder, or a folder of images. */
public final class Datasets {

    private Datasets() {}

    /**
     * @param strict fail on the first unreadable image of a folder instead of skipping it
     * @param minSide skip (or with strict, reject) folder images whose shorter side is smaller; 0 keeps all
     * @param onEach called once per file while a folder is scanned (may be null)
     */
    public static Dataset open(String source, boolean train, boolean strict, int minSide, Runnable onEach) {
        if (BundledDatasets.exists(source)) {
            return BundledDatasets.open(source);
        }
        if (FetchedDatasets.exists(source)) {
            return FetchedDatasets.open(source);
        }
        Path p = Path.of(source);
        if (!Files.exists(p)) {
            throw new ImageFileException(source + ": no such file or folder, and not a bundled dataset ("
                    + String.join(", ", BundledDatasets.list().keySet()) + ") nor a fetchable one ("
                + String.join(", ", FetchedDatasets.list().keySet()) + ")");
        }
        if (p.getFileName().toString().endsWith(".safetensors")) {
            return new TensorDataset(p);
        }
        if (Files.isRegularFile(p.resolve("emoji.json"))) {
            return EmojiDataset.open(p);
        }
        if (Files.exists(p.resolve("data_batch_1.bin")) || Files.exists(p.resolve("train.bin"))) {
            return CifarDataset.open(p, train);
        }
        return FolderDataset.open(p).scan(strict, minSide, onEach);
    }

    /** Folder datasets are scanned by {@link #open}; this is the number of files a scan will visit (0 otherwise). */
    public static int filesToScan(String source) {
        Path p = Path.of(source);
        if (BundledDatasets.exists(source) || FetchedDatasets.exists(source) || !Files.isDirectory(p) || Files.exists(p.resolve("data_batch_1.bin"))
                || Files.exists(p.resolve("train.bin"))) {
            return 0;
        }
        return FolderDataset.open(p).size();
    }
}
