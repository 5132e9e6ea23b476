package maetok4j.data;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A folder of images: ImageNet-style (one sub-folder per class, labels by sorted folder name) when the
 * top level holds only folders, otherwise flat and unlabelled. {@link #scan} decodes every file once and
 * drops the unusable ones, counting why, so that a dataset never changes silently mid-epoch.
 */
public final class FolderDataset implements Dataset {

    private final Path root;
    private final List<Path> files;
    private final int[] labels;
    private final List<String> classes;
    private final Map<String, Integer> skipped;

    private FolderDataset(Path root, List<Path> files, int[] labels, List<String> classes, Map<String, Integer> skipped) {
        this.root = root;
        this.files = files;
        this.labels = labels;
        this.classes = classes;
        this.skipped = skipped;
    }

    /** Lists the images (by extension) without decoding them. */
    public static FolderDataset open(Path root) {
        if (!Files.isDirectory(root)) {
            throw new ImageFileException(root + ": not a folder");
        }
        List<Path> classDirs;
        boolean onlyDirs;
        try (Stream<Path> top = Files.list(root)) {
            List<Path> entries = top.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
            classDirs = entries.stream().filter(Files::isDirectory).toList();
            onlyDirs = !classDirs.isEmpty() && classDirs.size() == entries.size();
        } catch (java.io.IOException e) {
            throw new ImageFileException(root + ": cannot list: " + e.getMessage(), e);
        }
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<String> classes = new ArrayList<>();
        if (onlyDirs) {
            for (Path dir : classDirs) {
                classes.add(dir.getFileName().toString());
                for (Path f : ImageFiles.list(dir)) {
                    files.add(f);
                    labels.add(classes.size() - 1);
                }
            }
        } else {
            files.addAll(ImageFiles.list(root));
        }
        if (files.isEmpty()) {
            throw new ImageFileException(root + ": no image files (" + String.join(", ", ImageFiles.EXTENSIONS) + ")");
        }
        return new FolderDataset(root, files, labels.isEmpty() ? null : labels.stream().mapToInt(Integer::intValue).toArray(),
                classes, Map.of());
    }

    /**
     * Decodes every image; unreadable ones, and ones whose shorter side is below {@code minSide} (0 keeps
     * all: the ADM crops upsample small images), are dropped and counted by reason, or with {@code strict}
     * the first one fails with its message. {@code onEach} sees progress (may be null).
     */
    public FolderDataset scan(boolean strict, int minSide, Runnable onEach) {
        List<Path> kept = new ArrayList<>();
        List<Integer> keptLabels = new ArrayList<>();
        Map<String, Integer> why = new LinkedHashMap<>();
        for (int i = 0; i < files.size(); i++) {
            try {
                BufferedImage img = ImageFiles.read(files.get(i));
                if (Math.min(img.getWidth(), img.getHeight()) < minSide) {
                    throw new ImageFileException(files.get(i) + ": " + img.getWidth() + "x" + img.getHeight()
                            + " is smaller than the minimum side " + minSide);
                }
                kept.add(files.get(i));
                keptLabels.add(label(i));
            } catch (ImageFileException e) {
                if (strict) {
                    throw e;
                }
                why.merge(reason(e.getMessage()), 1, Integer::sum);
                org.slf4j.LoggerFactory.getLogger(FolderDataset.class).warn("skipped {}", e.getMessage());
            }
            if (onEach != null) {
                onEach.run();
            }
        }
        return new FolderDataset(root, kept, labels == null ? null : keptLabels.stream().mapToInt(Integer::intValue).toArray(),
                classes, why);
    }

    private static String reason(String message) {
        if (message.contains("empty file")) {
            return "empty";
        }
        if (message.contains("decompression bomb")) {
            return "too large";
        }
        if (message.contains("smaller than the minimum side")) {
            return "too small";
        }
        if (message.contains("not an image")) {
            return "not an image";
        }
        return "corrupt";
    }

    /** Files dropped by {@link #scan}, by reason. */
    public Map<String, Integer> skipped() {
        return skipped;
    }

    @Override
    public String name() {
        return root.toString();
    }

    @Override
    public int size() {
        return files.size();
    }

    @Override
    public List<String> classes() {
        return labels == null ? List.of() : classes;
    }

    @Override
    public int label(int i) {
        return labels == null ? -1 : labels[i];
    }

    @Override
    public BufferedImage image(int i) {
        return ImageFiles.read(files.get(i));
    }
}
