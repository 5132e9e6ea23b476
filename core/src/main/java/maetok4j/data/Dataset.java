package maetok4j.data;

import java.awt.image.BufferedImage;
import java.util.List;

/** Labelled (or unlabelled) images addressed by index; decoding happens on access. */
public interface Dataset {

    String name();

    int size();

    /** Class names by label; empty when the dataset has no labels. */
    List<String> classes();

    /** The label of image i, or -1 without labels. */
    int label(int i);

    /** Image i as 8-bit RGB (gray images have equal channels). */
    BufferedImage image(int i);

    /** Image counts per label. */
    default int[] classCounts() {
        int[] counts = new int[classes().size()];
        for (int i = 0; i < size(); i++) {
            int l = label(i);
            if (l >= 0) {
                counts[l]++;
            }
        }
        return counts;
    }
}
