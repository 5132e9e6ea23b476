package maetok4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CIFAR-10 / CIFAR-100 binary batches, for users who have them: records of label byte(s) and 3072 bytes
 * of 32×32 R, G, B planes. CIFAR-10: {@code data_batch_1..5.bin} (train), {@code test_batch.bin} with
 * {@code batches.meta.txt}; CIFAR-100: {@code train.bin}, {@code test.bin} with a coarse and a fine label
 * per record (the fine one is used) and {@code fine_label_names.txt}.
 */
public final class CifarDataset implements Dataset {

    private static final int PIXELS = 32 * 32 * 3;

    private final String name;
    private final byte[] data;
    private final int recordSize;
    private final int labelOffset;
    private final List<String> classes;

    private CifarDataset(String name, byte[] data, int recordSize, int labelOffset, List<String> classes) {
        this.name = name;
        this.data = data;
        this.recordSize = recordSize;
        this.labelOffset = labelOffset;
        this.classes = classes;
    }

    /** Opens the train or test split of the CIFAR folder {@code dir} (10 or 100 detected from its files). */
    public static CifarDataset open(Path dir, boolean train) {
        boolean hundred = Files.exists(dir.resolve("train.bin")) || Files.exists(dir.resolve("test.bin"));
        List<Path> files = new ArrayList<>();
        if (hundred) {
            files.add(dir.resolve(train ? "train.bin" : "test.bin"));
        } else if (train) {
            for (int i = 1; i <= 5; i++) {
                files.add(dir.resolve("data_batch_" + i + ".bin"));
            }
        } else {
            files.add(dir.resolve("test_batch.bin"));
        }
        int labelBytes = hundred ? 2 : 1;
        int record = labelBytes + PIXELS;
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (Path f : files) {
            try {
                byte[] b = Files.readAllBytes(f);
                if (b.length == 0 || b.length % record != 0) {
                    throw new ImageFileException(f + ": " + b.length + " bytes is not a whole number of " + record
                            + "-byte CIFAR-" + (hundred ? "100" : "10") + " records");
                }
                all.writeBytes(b);
            } catch (IOException e) {
                throw new ImageFileException(f + ": cannot read: " + e.getMessage(), e);
            }
        }
        byte[] data = all.toByteArray();
        Path meta = dir.resolve(hundred ? "fine_label_names.txt" : "batches.meta.txt");
        List<String> classes = new ArrayList<>();
        try {
            if (Files.exists(meta)) {
                Files.readAllLines(meta).stream().filter(l -> !l.isBlank()).forEach(classes::add);
            }
        } catch (IOException e) {
            throw new ImageFileException(meta + ": cannot read: " + e.getMessage(), e);
        }
        int k = hundred ? 100 : 10;
        for (int i = classes.size(); i < k; i++) {
            classes.add(Integer.toString(i));
        }
        for (int i = 0; i < data.length / record; i++) {
            int l = data[i * record + labelBytes - 1] & 0xff;
            if (l >= k) {
                throw new ImageFileException(dir + ": record " + i + " has label " + l + ", CIFAR-" + k + " has " + k + " classes");
            }
        }
        return new CifarDataset(dir + (train ? " (train)" : " (test)"), data, record, labelBytes - 1, List.copyOf(classes));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int size() {
        return data.length / recordSize;
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    @Override
    public int label(int i) {
        return data[i * recordSize + labelOffset] & 0xff;
    }

    @Override
    public BufferedImage image(int i) {
        int base = i * recordSize + labelOffset + 1;
        int[] px = new int[1024];
        for (int p = 0; p < 1024; p++) {
            px[p] = (data[base + p] & 0xff) << 16 | (data[base + 1024 + p] & 0xff) << 8 | (data[base + 2048 + p] & 0xff);
        }
        return Resample.toImage(px, 32, 32);
    }
}
