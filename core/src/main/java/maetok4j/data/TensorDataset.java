package maetok4j.data;

import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tensor.TensorInfo;

import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A safetensors file with {@code images} [N, 3, H, W] float32 in [-1, 1] and optionally {@code labels}
 * [N] int64; class names from the metadata key {@code classes} (comma-separated) or "0".."K-1". Rows are
 * read on demand, so the file may be larger than memory.
 */
public final class TensorDataset implements Dataset, AutoCloseable {

    private final Safetensors file;
    private final int n;
    private final int h;
    private final int w;
    private final long[] labels;
    private final List<String> classes;

    public TensorDataset(Path path) {
        file = Safetensors.open(path);
        try {
            TensorInfo img = file.info("images");
            long[] s = img.shape();
            if (s.length != 4 || s[1] != 3 || !img.dtype().equals("F32")) {
                throw new TensorFileException(path + ": 'images' must be F32 [N, 3, H, W], got " + img);
            }
            n = Math.toIntExact(s[0]);
            h = Math.toIntExact(s[2]);
            w = Math.toIntExact(s[3]);
            if (file.contains("labels")) {
                TensorInfo l = file.info("labels");
                if (l.shape().length != 1 || l.shape()[0] != n || !l.dtype().equals("I64")) {
                    throw new TensorFileException(path + ": 'labels' must be I64 [" + n + "], got " + l);
                }
                ByteBuffer b = file.rowBytes("labels", 0, n);
                labels = new long[n];
                for (int i = 0; i < n; i++) {
                    labels[i] = b.getLong();
                    if (labels[i] < 0) {
                        throw new TensorFileException(path + ": negative label " + labels[i] + " at row " + i);
                    }
                }
                String names = file.metadata().get("classes");
                int k = (int) Arrays.stream(labels).max().orElse(-1) + 1;
                List<String> c = new ArrayList<>();
                if (names != null) {
                    c.addAll(Arrays.asList(names.split(",")));
                }
                for (int i = c.size(); i < k; i++) {
                    c.add(Integer.toString(i));
                }
                classes = List.copyOf(c);
            } else {
                labels = null;
                classes = List.of();
            }
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return file.file().toString();
    }

    @Override
    public int size() {
        return n;
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    @Override
    public int label(int i) {
        return labels == null ? -1 : (int) labels[i];
    }

    /** The row as 8-bit RGB: {@code round(127.5 (v + 1))}, the exact inverse of the [-1, 1] scaling of 8-bit data. */
    @Override
    public BufferedImage image(int i) {
        ByteBuffer b = file.rowBytes("images", i, 1);
        int plane = h * w;
        int[] px = new int[plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                int v = (int) Math.round(127.5 * (b.getFloat() + 1.0));
                px[p] |= Math.max(0, Math.min(255, v)) << (16 - 8 * c);
            }
        }
        return Resample.toImage(px, w, h);
    }

    @Override
    public void close() {
        file.close();
    }
}
