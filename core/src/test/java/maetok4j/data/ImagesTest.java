package maetok4j.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import java.util.zip.CRC32;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Image decoding, Pillow-exact resampling and the ADM crops against Pillow 9.4 (see make_reference.py). */
class ImagesTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    static byte[] rgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        int[] px = img.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < px.length; i++) {
            out[3 * i] = (byte) (px[i] >> 16);
            out[3 * i + 1] = (byte) (px[i] >> 8);
            out[3 * i + 2] = (byte) px[i];
        }
        return out;
    }

    static byte[] expected(String name) throws IOException {
        return Files.readAllBytes(resource("images/" + name));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"nearest, NEAREST", "box, BOX", "bilinear, BILINEAR", "bicubic, BICUBIC", "lanczos, LANCZOS"})
    void resizeEqualsPillow(String name, Resample.Filter filter) throws IOException {
        BufferedImage grad = ImageFiles.read(resource("images/grad.png")); // 37x23
        // down, height only, up, width only, to one pixel, down in x and up in y
        for (int[] size : new int[][] {{16, 11}, {37, 9}, {50, 40}, {5, 23}, {1, 1}, {20, 60}}) {
            BufferedImage out = Resample.resize(grad, size[0], size[1], filter);
            assertThat(rgb(out)).as(name + " " + Arrays.toString(size))
                    .isEqualTo(expected("grad-" + name + "-" + size[0] + "x" + size[1] + ".rgb"));
        }
    }

    @Test
    void admCenterCropEqualsTheReference() throws IOException {
        BufferedImage big = ImageFiles.read(resource("images/big.png"));
        for (int s : new int[] {16, 32, 48}) {
            assertThat(rgb(AdmCrop.centerCrop(big, s))).as("size " + s).isEqualTo(expected("big-center-" + s + ".rgb"));
        }
    }

    /**
     * Replays the draws make_reference.py made: each {value, bound} pair is one {@code nextInt(bound)}, so the
     * crop must ask for exactly the ranges random_crop_arr passes to {@code random.randrange}.
     */
    static RandomGenerator replay(int[]... draws) {
        return new RandomGenerator() {
            int next;

            @Override
            public long nextLong() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int nextInt(int bound) {
                int[] draw = draws[next++];
                assertThat(bound).as("bound of draw " + next).isEqualTo(draw[1]);
                return draw[0];
            }
        };
    }

    @Test
    void admRandomCropEqualsTheReferenceForTheSameDraws() throws IOException {
        BufferedImage big = ImageFiles.read(resource("images/big.png")); // 130x97: halved once, 37 high, 50 wide
        // smaller side 32 + 5 of [32, 41), crop y 3 of [0, 6), x 11 of [0, 19)
        assertThat(rgb(AdmCrop.randomCrop(big, 32, replay(new int[] {5, 9}, new int[] {3, 6}, new int[] {11, 19}))))
                .isEqualTo(expected("big-random-32-s37-y3-x11.rgb"));
        BufferedImage grad = ImageFiles.read(resource("images/grad.png")); // 37x23: not halved, 20 high, 32 wide
        assertThat(rgb(AdmCrop.randomCrop(grad, 16, replay(new int[] {4, 5}, new int[] {4, 5}, new int[] {0, 17}))))
                .isEqualTo(expected("grad-random-16-s20-y4-x0.rgb"));
    }

    @Test
    void randomCropIsSeededAndInBounds() throws IOException {
        BufferedImage big = ImageFiles.read(resource("images/big.png"));
        byte[] a = rgb(AdmCrop.randomCrop(big, 32, new SplittableRandom(3)));
        byte[] b = rgb(AdmCrop.randomCrop(big, 32, new SplittableRandom(3)));
        assertThat(a).isEqualTo(b).hasSize(32 * 32 * 3);
        boolean differs = false;
        for (int seed = 4; seed < 10 && !differs; seed++) {
            differs = !Arrays.equals(a, rgb(AdmCrop.randomCrop(big, 32, new SplittableRandom(seed))));
        }
        assertThat(differs).isTrue();
    }

    /** Expected: Pillow's convert("RGB"), or for inputs with alpha its alpha_composite over white. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"gray.png, gray.rgb", "palette.png, palette.rgb", "palette-trns.png, palette-trns.rgb",
            "palette-trns.gif, palette-trns-gif.rgb", "gray-trns.png, gray-trns.rgb", "rgb-trns.png, rgb-trns.rgb",
            "rgba.png, rgba.rgb", "la.png, la.rgb", "small.bmp, small.rgb", "grad-420.jpg, grad-420-jpg.rgb",
            "grad-444.jpg, grad-444-jpg.rgb", "gray.jpg, gray-jpg.rgb", "rgb16.png, rgb16.rgb", "rgba16.png, rgba16.rgb",
            // Pillow clips 16-bit gray to 255 (mode "I"); gray16.rgb holds the high byte, which we keep instead
            "gray16.png, gray16.rgb"})
    void decodesAsPillow(String file, String rgb) throws IOException {
        assertThat(rgb(ImageFiles.read(resource("images/" + file)))).isEqualTo(expected(rgb));
    }

    @Test
    void alphaIsCompositedOverTheGivenBackground() throws IOException {
        BufferedImage rgba = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        rgba.setRGB(0, 0, 0x80FF0000); // red at alpha 128
        rgba.setRGB(1, 0, 0x00123456); // fully transparent
        Path a = tmp.resolve("a.png");
        ImageIO.write(rgba, "png", a.toFile());
        int[] white = ImageFiles.read(a).getRGB(0, 0, 2, 1, null, 0, 2);
        assertThat(white[0] & 0xffffff).isEqualTo(((255 * 128 + 255 * 127 + 127) / 255) << 16 | ((255 * 127 + 127) / 255) << 8 | (255 * 127 + 127) / 255);
        assertThat(white[1] & 0xffffff).isEqualTo(0xffffff);
        int[] black = ImageFiles.read(a, 0x000000).getRGB(0, 0, 2, 1, null, 0, 2);
        assertThat(black[0] & 0xffffff).isEqualTo(((255 * 128 + 127) / 255) << 16);
        assertThat(black[1] & 0xffffff).isZero();
    }

    @Test
    void badFilesAreRejectedWithTheirReason() throws IOException {
        Path empty = tmp.resolve("empty.png");
        Files.write(empty, new byte[0]);
        assertThatThrownBy(() -> ImageFiles.read(empty)).isInstanceOf(ImageFileException.class).hasMessage(empty + ": empty file");
        Path text = tmp.resolve("text.png");
        Files.writeString(text, "hello, not an image");
        assertThatThrownBy(() -> ImageFiles.read(text)).hasMessageStartingWith(text.toString()).hasMessageContaining("not an image");
        Path cut = tmp.resolve("cut.png");
        byte[] png = Files.readAllBytes(resource("images/big.png"));
        Files.write(cut, Arrays.copyOf(png, png.length / 2));
        assertThatThrownBy(() -> ImageFiles.read(cut)).hasMessageStartingWith(cut.toString()).hasMessageContaining("cannot decode");
        Path bomb = tmp.resolve("bomb.png");
        Files.write(bomb, bombPng(100_000, 100_000));
        assertThatThrownBy(() -> ImageFiles.read(bomb)).isInstanceOf(ImageFileException.class).hasMessageStartingWith(bomb.toString())
                .hasMessageContaining("declares 100000x100000 pixels").hasMessageContaining("decompression bomb");
    }

    /** A PNG signature and a valid IHDR chunk declaring the given size, and nothing else. */
    static byte[] bombPng(int w, int h) {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        out.writeBytes(ByteBuffer.allocate(4).putInt(13).array());
        out.writeBytes(ihdr.array());
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return out.toByteArray();
    }

    @Test
    void tensorRoundTripAndQuantisation() throws IOException {
        BufferedImage grad = ImageFiles.read(resource("images/grad.png"));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray t = ImageTensors.toTensor(List.of(grad, grad), m);
            assertThat(t.getShape().getShape()).containsExactly(2, 3, 23, 37);
            assertThat(t.min().getFloat()).isGreaterThanOrEqualTo(-1f);
            assertThat(t.max().getFloat()).isLessThanOrEqualTo(1f);
            assertThat(rgb(ImageTensors.toImages(t).get(1))).isEqualTo(rgb(grad));
            // clamp(127.5 y + 128) truncated: -1 -> 0 (0.5), 0 -> 128, 0.999 -> 255, 1.2 -> 255, -0.004 -> 127 (127.49)
            NDArray y = m.create(new float[] {-1f, 0f, 0.999f, 1.2f, -0.004f});
            assertThat(ImageTensors.quantize(y).mul(127.5f).add(127.5f).round().toFloatArray()).containsExactly(0, 128, 255, 255, 127);
            assertThat(ImageTensors.quantize(-1f)).isZero();
            BufferedImage other = new BufferedImage(37, 22, BufferedImage.TYPE_INT_RGB);
            assertThatThrownBy(() -> ImageTensors.toTensor(List.of(grad, other), m))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("37x23").hasMessageContaining("37x22");
        }
    }

    @Test
    void pngsAreWrittenWholeAndListedInPathOrder() throws IOException {
        BufferedImage grad = ImageFiles.read(resource("images/grad.png"));
        Path out = tmp.resolve("sub/x.png");
        ImageFiles.writePng(grad, out);
        assertThat(rgb(ImageFiles.read(out))).isEqualTo(rgb(grad));
        try (var left = Files.list(out.getParent())) {
            assertThat(left).containsExactly(out); // no temporary file left behind
        }
        for (String name : List.of("b.JPG", "a/z.gif", "a.bmp", "notes.txt", "a/y.Jpeg", "png")) {
            Files.createDirectories(tmp.resolve(name).getParent());
            Files.writeString(tmp.resolve(name), "");
        }
        assertThat(ImageFiles.list(tmp)).containsExactly(tmp.resolve("a.bmp"), tmp.resolve("a/y.Jpeg"),
                tmp.resolve("a/z.gif"), tmp.resolve("b.JPG"), out);
    }
}
