package maetok4j.data;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.List;

/** Images and labels from IDX files: [N, H, W] gray or [N, H, W, 3] RGB bytes, [N] labels. */
public final class IdxDataset implements Dataset {

    private final String name;
    private final IdxFile images;
    private final IdxFile labels;
    private final List<String> classes;

    public IdxDataset(String name, IdxFile images, IdxFile labels, List<String> classes) {
        int[] d = images.dims();
        boolean gray = d.length == 3;
        boolean rgb = d.length == 4 && d[3] == 3;
        if (!gray && !rgb) {
            throw new ImageFileException(images.source() + ": IDX images must be [N, H, W] or [N, H, W, 3], got " + Arrays.toString(d));
        }
        if (labels != null) {
            if (labels.dims().length != 1 || labels.count() != images.count()) {
                throw new ImageFileException(labels.source() + ": " + labels.count() + " labels for " + images.count()
                        + " images in " + images.source());
            }
            for (int i = 0; i < labels.count(); i++) {
                if (labels.get(i, 0) >= classes.size()) {
                    throw new ImageFileException(labels.source() + ": label " + labels.get(i, 0) + " at row " + i
                            + " has no class (" + classes.size() + " classes)");
                }
            }
        }
        this.name = name;
        this.images = images;
        this.labels = labels;
        this.classes = labels == null ? List.of() : List.copyOf(classes);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int size() {
        return images.count();
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    @Override
    public int label(int i) {
        return labels == null ? -1 : labels.get(i, 0);
    }

    @Override
    public BufferedImage image(int i) {
        int[] d = images.dims();
        int h = d[1];
        int w = d[2];
        boolean rgb = d.length == 4;
        int[] px = new int[h * w];
        for (int p = 0; p < px.length; p++) {
            if (rgb) {
                px[p] = images.get(i, 3 * p) << 16 | images.get(i, 3 * p + 1) << 8 | images.get(i, 3 * p + 2);
            } else {
                int v = images.get(i, p);
                px[p] = v << 16 | v << 8 | v;
            }
        }
        return Resample.toImage(px, w, h);
    }
}
