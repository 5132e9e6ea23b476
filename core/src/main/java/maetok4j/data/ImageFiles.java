package maetok4j.data;

import maetok4j.tensor.AtomicFiles;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/** Image files to 8-bit RGB and back. */
public final class ImageFiles {

    /** Pillow's decompression-bomb limit (twice its warning threshold): larger images are refused unread. */
    public static final long MAX_PIXELS = 178_956_970L;
    public static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif");

    private ImageFiles() {}

    public static BufferedImage read(Path file) {
        return read(file, 0xFFFFFF);
    }

    /**
     * Decodes an image to 8-bit RGB ({@code TYPE_INT_RGB}) with the pixel values Pillow 9.4 gives, so that
     * crops and tokens match the reference's. The declared size is checked against {@link #MAX_PIXELS}
     * before any pixel is decoded. Gray images keep their values (no colour-space conversion), palettes are
     * expanded, 16-bit samples keep their high byte ({@code v >> 8}, as Pillow's RGB;16B and LA;16B modes do;
     * Pillow's 16-bit gray mode "I" instead clips to 255 on {@code convert("RGB")}, which we do not copy).
     * Alpha, including a tRNS colour key, is composited over {@code background} (0xRRGGBB) as
     * {@code (c*a + bg*(255-a) + 127) / 255}, which equals Pillow's {@code Image.alpha_composite} over an
     * opaque background for every input; Pillow's {@code convert("RGB")} would drop alpha instead.
     */
    public static BufferedImage read(Path file, int background) {
        try {
            if (Files.size(file) == 0) {
                throw new ImageFileException(file + ": empty file");
            }
        } catch (IOException e) {
            throw new ImageFileException(file + ": cannot read: " + e.getMessage(), e);
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new ImageFileException(file + ": not an image in a supported format (" + String.join(", ", EXTENSIONS) + ")");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0);
                long h = reader.getHeight(0);
                if (w * h > MAX_PIXELS) {
                    throw new ImageFileException(file + ": declares " + w + "x" + h + " pixels, over the limit of "
                            + MAX_PIXELS + " (a decompression bomb?)");
                }
                return toRgb(reader.read(0), background);
            } finally {
                reader.dispose();
            }
        } catch (ImageFileException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageFileException(file + ": cannot decode image: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
        }
    }

    static BufferedImage toRgb(BufferedImage img, int background) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] out = new int[w * h];
        Raster r = img.getRaster();
        boolean gray = img.getColorModel() instanceof ComponentColorModel
                && img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        boolean wide = r.getTransferType() == DataBuffer.TYPE_USHORT;
        boolean alpha = img.getColorModel().hasAlpha();
        int br = (background >> 16) & 0xff;
        int bg = (background >> 8) & 0xff;
        int bb = background & 0xff;
        if (gray || wide) {
            // Read samples directly: ColorModel conversion would apply a gamma to linear gray.
            int bands = r.getNumBands();
            int[] px = new int[bands];
            int[] c = new int[bands];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    for (int i = 0; i < bands; i++) {
                        c[i] = wide ? px[i] >> 8 : px[i];
                    }
                    int cr = c[0];
                    int cg = gray ? c[0] : c[1];
                    int cb = gray ? c[0] : c[2];
                    int a = alpha ? c[bands - 1] : 255;
                    out[y * w + x] = (blend(cr, br, a) << 16) | (blend(cg, bg, a) << 8) | blend(cb, bb, a);
                }
            }
        } else {
            int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < argb.length; i++) {
                int p = argb[i];
                int a = alpha ? (p >>> 24) : 255;
                out[i] = (blend((p >> 16) & 0xff, br, a) << 16) | (blend((p >> 8) & 0xff, bg, a) << 8) | blend(p & 0xff, bb, a);
            }
        }
        return Resample.toImage(out, w, h);
    }

    private static int blend(int c, int bg, int a) {
        return (c * a + bg * (255 - a) + 127) / 255;
    }

    /** Image files (by extension, any case) below a folder, sorted by relative path. */
    public static List<Path> list(Path folder) {
        try (Stream<Path> s = Files.walk(folder)) {
            return s.filter(Files::isRegularFile).filter(ImageFiles::isImage)
                    .sorted((a, b) -> folder.relativize(a).toString().compareTo(folder.relativize(b).toString()))
                    .toList();
        } catch (IOException e) {
            throw new ImageFileException(folder + ": cannot list: " + e.getMessage(), e);
        }
    }

    public static boolean isImage(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** Writes an 8-bit RGB PNG atomically. */
    public static void writePng(BufferedImage image, Path file) {
        try {
            AtomicFiles.write(file, p -> {
                if (!ImageIO.write(image, "png", p.toFile())) {
                    throw new IOException("no PNG writer");
                }
            });
        } catch (RuntimeException e) {
            throw new ImageFileException(e.getMessage(), e);
        }
    }
}
