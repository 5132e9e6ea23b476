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

    @ParameterizedTest
    @CsvSource({"box, BOX", "bilinear, BILINEAR", "bicubic, BICUBIC", "lanczos, LANCZOS"})
    void resizeEqualsPillow(String name, Resample.Filter filter) throws IOException {
        BufferedImage grad = ImageFiles.read(resource("images/grad.png"));
        for (int[] size : new int[][] {{16, 11}, {37, 9}, {50, 40}, {5, 23}}) {
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

    @Test
    void grayAndPaletteDecodeAsPillowConvertsThem() throws IOException {
        assertThat(rgb(ImageFiles.read(resource("images/gray.png")))).isEqualTo(expected("gray.rgb"));
        assertThat(rgb(ImageFiles.read(resource("images/palette.png")))).isEqualTo(expected("palette.rgb"));
    }

    @Test
    void alphaIsCompositedAndSixteenBitIsScaled() throws IOException {
        BufferedImage rgba = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        rgba.setRGB(0, 0, 0x80FF0000); // red at alpha 128
        rgba.setRGB(1, 0, 0x00123456); // fully transparent
        Path a = tmp.resolve("a.png");
        ImageIO.write(rgba, "png", a.toFile());
        int[] white = ImageFiles.read(a).getRGB(0, 0, 2, 1, null, 0, 2);
        assertThat(white[0] & 0xffffff).isEqualTo(((255 * 128 + 255 * 127 + 127) / 255) << 16 | ((255 * 127 + 127) / 255) << 8 | (255 * 127 + 127) / 255);
        assertThat(white[1] & 0xffffff).isEqualTo(0xffffff);
        assertThat(ImageFiles.read(a, 0x000000).getRGB(1, 0) & 0xffffff).isZero();

        BufferedImage g16 = new BufferedImage(3, 1, BufferedImage.TYPE_USHORT_GRAY);
        g16.getRaster().setPixel(0, 0, new int[] {0});
        g16.getRaster().setPixel(1, 0, new int[] {32896}); // 128 * 257
        g16.getRaster().setPixel(2, 0, new int[] {65535});
        Path g = tmp.resolve("g16.png");
        ImageIO.write(g16, "png", g.toFile());
        int[] px = ImageFiles.read(g).getRGB(0, 0, 3, 1, null, 0, 3);
        assertThat(px[0] & 0xffffff).isZero();
        assertThat(px[1] & 0xffffff).isEqualTo(0x808080);
        assertThat(px[2] & 0xffffff).isEqualTo(0xffffff);
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
        assertThatThrownBy(() -> ImageFiles.read(bomb)).hasMessageContaining("declares 100000x100000 pixels").hasMessageContaining("decompression bomb");
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
        }
        Path out = tmp.resolve("sub/x.png");
        ImageFiles.writePng(grad, out);
        assertThat(rgb(ImageFiles.read(out))).isEqualTo(rgb(grad));
        assertThat(ImageFiles.list(tmp)).containsExactly(out);
    }
}
