package maetok4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BundledDatasetsTest {

    @TempDir
    Path tmp;

    @Test
    void fashionMnistTestSplitHasAThousandPerClass() {
        Dataset d = BundledDatasets.open("fashion-mnist-test");
        assertThat(d.size()).isEqualTo(10_000);
        assertThat(d.classes()).hasSize(10).startsWith("T-shirt/top").endsWith("Ankle boot");
        assertThat(d.classCounts()).containsOnly(1000);
        BufferedImage img = d.image(0);
        assertThat(img.getWidth()).isEqualTo(28);
        int p = img.getRGB(14, 14) & 0xffffff;
        assertThat(p >> 16).isEqualTo(p & 0xff); // gray replicated to RGB
    }

    @Test
    void emojiAreColourImagesInNineCategories() {
        Dataset d = BundledDatasets.open("emoji-noto-64");
        assertThat(d.size()).isEqualTo(1906);
        assertThat(d.classes()).hasSize(9).contains("Flags", "Smileys & Emotion");
        assertThat(d.classCounts()).containsExactly(85, 159, 270, 131, 264, 386, 169, 224, 218);
        BufferedImage grinning = d.image(0); // sort order starts with 'grinning'
        assertThat(d.classes().get(d.label(0))).isEqualTo("Smileys & Emotion");
        assertThat(grinning.getRGB(0, 0) & 0xffffff).isEqualTo(0xffffff); // composited over white
        int center = grinning.getRGB(32, 20);
        assertThat((center >> 16 & 0xff) - (center & 0xff)).as("a yellow face").isGreaterThan(80);
    }

    static byte[] gzIdx(int[] dims, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + dataBytes);
        b.putInt(0x0800 | dims.length);
        for (int d : dims) {
            b.putInt(d);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(b.array());
        }
        return out.toByteArray();
    }

    @Test
    void badIdxFilesAreNamed() throws IOException {
        Path truncated = tmp.resolve("t.gz");
        Files.write(truncated, gzIdx(new int[] {10, 28, 28}, 100));
        assertThatThrownBy(() -> IdxFile.read(truncated)).hasMessageContaining(truncated + ": truncated");
        Path huge = tmp.resolve("h.gz");
        Files.write(huge, gzIdx(new int[] {100000, 100000, 100000}, 0));
        assertThatThrownBy(() -> IdxFile.read(huge)).hasMessageContaining("exceed");
        Path notIdx = tmp.resolve("n");
        Files.writeString(notIdx, "hello world");
        assertThatThrownBy(() -> IdxFile.read(notIdx)).hasMessageContaining("not an IDX file");

        Path images = tmp.resolve("i.gz");
        Files.write(images, gzIdx(new int[] {3, 2, 2}, 12));
        Path labels = tmp.resolve("l.gz");
        Files.write(labels, gzIdx(new int[] {2}, 2));
        assertThatThrownBy(() -> new IdxDataset("x", IdxFile.read(images), IdxFile.read(labels), java.util.List.of("a")))
                .hasMessageContaining("2 labels for 3 images");
    }
}
