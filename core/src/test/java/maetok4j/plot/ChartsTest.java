package maetok4j.plot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ChartsTest {

    /** Distinct colours in the plot area: a blank chart has only its background and frame. */
    static int colours(Path png) throws Exception {
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(Charts.WIDTH);
        assertThat(img.getHeight()).isEqualTo(Charts.HEIGHT);
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 2) {
            for (int x = 0; x < img.getWidth(); x += 2) {
                seen.add(img.getRGB(x, y));
            }
        }
        return seen.size();
    }

    @Test
    void linesAndScattersAreDrawn(@TempDir Path dir) throws Exception {
        Path lines = dir.resolve("lines.png");
        assertThat(Charts.lines(lines, new Charts.Axes("t", "K", "NLL", true, false),
                List.of(new Charts.Series("a", new double[] {5, 10, 50}, new double[] {1.2, 1.1, 0.9}),
                        new Charts.Series("b", new double[] {5, 10, 50}, new double[] {1.4, 1.3, 1.25})), 1, true)).isTrue();
        assertThat(colours(lines)).isGreaterThan(20);
        Path scatter = dir.resolve("scatter.png");
        assertThat(Charts.scatter(scatter, new Charts.Axes("s", "PC1", "PC2", false, false),
                List.of(new Charts.Series("c0", new double[] {0, 1, 2}, new double[] {0, 1, 0}),
                        new Charts.Series("c1", new double[] {3, 4}, new double[] {2, 2})), 6)).isTrue();
        assertThat(colours(scatter)).isGreaterThan(20);
    }

    @Test
    void barsAreDrawnAndNonFiniteOnesLeftOut(@TempDir Path dir) throws Exception {
        Path bars = dir.resolve("bars.png");
        assertThat(Charts.bars(bars, new Charts.Axes("accuracy per class", "class", "accuracy", false, false), "held-out",
                List.of("Flags", "Objects", "Symbols"), new double[] {0.9, Double.NaN, 0.4})).isTrue();
        assertThat(colours(bars)).isGreaterThan(20);
        Path none = dir.resolve("none.png");
        assertThat(Charts.bars(none, new Charts.Axes("t", "x", "y", false, false), "s", List.of("a"), new double[] {Double.NaN})).isFalse();
        assertThat(none).doesNotExist();
        assertThatThrownBy(() -> Charts.bars(none, new Charts.Axes("t", "x", "y", false, false), "s", List.of("a"), new double[2]))
                .hasMessageContaining("1 categories but 2 values");
    }

    @Test
    void nothingPlottableWritesNothing(@TempDir Path dir) {
        Path png = dir.resolve("none.png");
        // a log axis drops non-positive values
        assertThat(Charts.lines(png, new Charts.Axes("t", "x", "y", false, true),
                List.of(new Charts.Series("a", new double[] {1, 2}, new double[] {0, -1})), 1, true)).isFalse();
        assertThat(png).doesNotExist();
        assertThatThrownBy(() -> new Charts.Series("bad", new double[2], new double[3])).hasMessageContaining("bad");
    }
}
