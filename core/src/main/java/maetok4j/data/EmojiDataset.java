package maetok4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * An emoji-datasource package folder: PNGs under {@code img/google/64/} labelled by their Unicode category
 * from {@code emoji.json}, base images and their skin-tone variants (which take the base's category).
 * Alpha is composited over white.
 */
public final class EmojiDataset implements Dataset {

    private final String name;
    private final List<Path> files;
    private final int[] labels;
    private final List<String> classes;

    private EmojiDataset(String name, List<Path> files, int[] labels, List<String> classes) {
        this.name = name;
        this.files = files;
        this.labels = labels;
        this.classes = classes;
    }

    public static EmojiDataset open(Path dir) {
        Path json = dir.resolve("emoji.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json.toFile());
        } catch (IOException e) {
            throw new ImageFileException(json + ": cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isArray()) {
            throw new ImageFileException(json + ": not a list of emoji");
        }
        List<JsonNode> entries = new ArrayList<>();
        root.forEach(entries::add);
        entries.sort(Comparator.comparingInt(e -> e.path("sort_order").asInt()));
        TreeSet<String> categories = new TreeSet<>();
        entries.forEach(e -> categories.add(e.path("category").asText()));
        List<String> classes = List.copyOf(categories);
        Path images = dir.resolve("img/google/64");
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (JsonNode e : entries) {
            int label = classes.indexOf(e.path("category").asText());
            if (e.path("has_img_google").asBoolean()) {
                files.add(images.resolve(e.path("image").asText()));
                labels.add(label);
            }
            e.path("skin_variations").forEach(v -> {
                if (v.path("has_img_google").asBoolean()) {
                    files.add(images.resolve(v.path("image").asText()));
                    labels.add(label);
                }
            });
        }
        List<Path> missing = files.stream().filter(f -> !Files.isRegularFile(f)).limit(3).toList();
        if (!missing.isEmpty()) {
            throw new ImageFileException(dir + ": emoji.json names images that are missing, e.g. " + missing);
        }
        return new EmojiDataset(dir.toString(), List.copyOf(files), labels.stream().mapToInt(Integer::intValue).toArray(), classes);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int size() {
        return files.size();
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    @Override
    public int label(int i) {
        return labels[i];
    }

    @Override
    public BufferedImage image(int i) {
        return ImageFiles.read(files.get(i));
    }
}
