package maetok4j.data;

import java.awt.image.BufferedImage;

/**
 * Pillow's {@code Image.resize} for 8-bit RGB images, bit for bit (Pillow 9.4 {@code Resample.c}):
 * separable, horizontal pass then vertical pass, each with normalised filter weights in fixed point
 * (22 fraction bits) and rounding/clipping to 8 bits in between; the filter support grows with the
 * downscaling factor, which is what makes the result antialiased.
 */
public final class Resample {

    public enum Filter {
        NEAREST(0), BOX(0.5), BILINEAR(1.0), BICUBIC(2.0), LANCZOS(3.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double weight(double x) {
            return switch (this) {
                case NEAREST -> throw new IllegalStateException("nearest is a lookup, not a convolution");
                case BOX -> x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
                case BILINEAR -> Math.abs(x) < 1 ? 1 - Math.abs(x) : 0;
                case BICUBIC -> bicubic(Math.abs(x));
                case LANCZOS -> -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0;
            };
        }

        private static double bicubic(double x) {
            double a = -0.5;
            if (x < 1) {
                return ((a + 2) * x - (a + 3)) * x * x + 1;
            }
            return x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0;
        }

        private static double sinc(double x) {
            if (x == 0) {
                return 1;
            }
            x *= Math.PI;
            return Math.sin(x) / x;
        }
    }

    private static final int PRECISION_BITS = 32 - 8 - 2;

    private Resample() {}

    public static BufferedImage resize(BufferedImage rgb, int width, int height, Filter filter) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("cannot resize to " + width + "x" + height);
        }
        int w = rgb.getWidth();
        int h = rgb.getHeight();
        int[] px = rgb.getRGB(0, 0, w, h, null, 0, w);
        if (w == width && h == height) {
            return toImage(px, w, h);
        }
        if (filter == Filter.NEAREST) {
            return toImage(nearest(px, w, h, width, height), width, height);
        }
        if (width != w) {
            px = pass(px, w, h, width, filter, true);
            w = width;
        }
        if (height != h) {
            px = pass(px, w, h, height, filter, false);
            h = height;
        }
        return toImage(px, w, h);
    }

    /**
     * Pillow resizes with NEAREST through an affine transform: the source of output pixel {@code x} is
     * {@code floor((x + 0.5) * in/out)}, with the position accumulated step by step in double as Pillow does.
     */
    private static int[] nearest(int[] in, int w, int h, int width, int height) {
        int[] xs = sourcePositions(w, width);
        int[] ys = sourcePositions(h, height);
        int[] out = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                out[y * width + x] = in[ys[y] * w + xs[x]];
            }
        }
        return out;
    }

    private static int[] sourcePositions(int inSize, int outSize) {
        double step = (double) inSize / outSize;
        double pos = step * 0.5;
        int[] src = new int[outSize];
        for (int i = 0; i < outSize; i++) {
            src[i] = (int) pos;
            pos += step;
        }
        return src;
    }

    /** One separable pass along x (horizontal) or y, from {@code inSize} to {@code outSize} samples. */
    private static int[] pass(int[] in, int w, int h, int outSize, Filter filter, boolean horizontal) {
        int inSize = horizontal ? w : h;
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support * filterScale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] kk = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++) {
                k[x] = filter.weight((x + xmin - center + 0.5) * ss);
                ww += k[x];
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww == 0 ? k[x] : k[x] / ww;
                kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        int ow = horizontal ? outSize : w;
        int oh = horizontal ? h : outSize;
        int[] out = new int[ow * oh];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int o = horizontal ? x : y;
                int min = bounds[o * 2];
                int n = bounds[o * 2 + 1];
                int r = 1 << (PRECISION_BITS - 1);
                int g = r;
                int b = r;
                for (int i = 0; i < n; i++) {
                    int p = horizontal ? in[y * w + min + i] : in[(min + i) * w + x];
                    int c = kk[o * ksize + i];
                    r += ((p >> 16) & 0xff) * c;
                    g += ((p >> 8) & 0xff) * c;
                    b += (p & 0xff) * c;
                }
                out[y * ow + x] = (clip8(r) << 16) | (clip8(g) << 8) | clip8(b);
            }
        }
        return out;
    }

    private static int clip8(int v) {
        if (v >= (1 << PRECISION_BITS << 8)) {
            return 255;
        }
        return v <= 0 ? 0 : v >> PRECISION_BITS;
    }

    static BufferedImage toImage(int[] px, int w, int h) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, w, h, px, 0, w);
        return out;
    }
}
