package maetok4j.metrics;

/**
 * Mean structural similarity with the semantics of scikit-image 0.19/0.20
 * {@code skimage.metrics.structural_similarity}: per-channel local statistics from a separable filter
 * (uniform {@code win_size} box, or a Gaussian truncated at 3.5 sigma), scipy.ndimage's {@code 'reflect'}
 * border (half-sample symmetric, {@code d c b a | a b c d | d c b a}) for both filters, K1 = 0.01,
 * K2 = 0.03, a border of {@code (win_size-1)/2} cropped from the SSIM map before its mean, and the mean
 * over channels ({@code channel_axis}).
 *
 * <p>Everything is computed in float64. scikit-image computes float32 inputs in float32, so its values
 * for float32 images differ from these by float32 rounding (about 1e-6); for float64 and integer inputs
 * they agree to rounding.
 *
 * <p>Images are float arrays in CHW order (channel planes, row-major), the layout of one image of a
 * [B, C, H, W] tensor.
 */
public final class Ssim {

    static final double K1 = 0.01;
    static final double K2 = 0.03;
    /** scikit-image fixes the Gaussian's truncation so that sigma 1.5 gives the 11-tap filter of Wang et al. */
    static final double TRUNCATE = 3.5;

    /**
     * @param gaussian Gaussian weights of width {@code sigma}; otherwise a uniform {@code winSize} box
     * @param sigma the Gaussian's standard deviation (ignored for the uniform window)
     * @param winSize the window side: the uniform filter's size, and for both windows the crop
     *     ({@code (winSize-1)/2} per border) and the sample-covariance count {@code winSize²}; for the
     *     Gaussian, scikit-image's default is {@link #gaussianWindow(double)}
     * @param sampleCovariance normalise covariances by N-1 rather than N (N = winSize²)
     * @param dataRange the distance between the smallest and largest possible values
     */
    public record Options(boolean gaussian, double sigma, int winSize, boolean sampleCovariance, double dataRange) {

        public Options {
            if (winSize < 1 || winSize % 2 == 0) {
                throw new IllegalArgumentException("window size must be odd and positive, got " + winSize);
            }
            if (sampleCovariance && winSize == 1) {
                throw new IllegalArgumentException("sample covariance needs a window of more than one pixel");
            }
            if (gaussian && !(sigma > 0)) {
                throw new IllegalArgumentException("sigma must be positive, got " + sigma);
            }
            if (!(dataRange > 0) || Double.isInfinite(dataRange)) {
                throw new IllegalArgumentException("data range must be positive and finite, got " + dataRange);
            }
        }

        /** scikit-image's defaults: uniform 7×7 window, sample covariance. */
        public static Options uniform(double dataRange) {
            return new Options(false, 1.5, 7, true, dataRange);
        }

        /** The protocol of Wang et al. (2004): Gaussian sigma 1.5 (11 taps), population covariance. */
        public static Options gaussian(double dataRange) {
            return new Options(true, 1.5, gaussianWindow(1.5), false, dataRange);
        }

        /**
         * The reference evaluation ({@code inference/reconstruct_vq.py}): scikit-image defaults on [0, 1]
         * images with {@code data_range=2.0}, a quirk that enlarges C1 and C2 fourfold.
         */
        public static Options referenceEval() {
            return uniform(2.0);
        }

        /** The Gaussian filter's radius, as scipy.ndimage rounds it. */
        int radius() {
            return gaussian ? (int) (TRUNCATE * sigma + 0.5) : winSize / 2;
        }
    }

    /** The window scikit-image derives for Gaussian weights: {@code 2·int(3.5·sigma + 0.5) + 1}. */
    public static int gaussianWindow(double sigma) {
        return 2 * (int) (TRUNCATE * sigma + 0.5) + 1;
    }

    private final Options options;
    private final int channels;
    private final int h;
    private final int w;
    private final double[] weights;
    private final int[] rowIndex;
    private final int[] colIndex;
    private final double[] x;
    private final double[] y;
    // horizontally filtered x, y, x², y², xy
    private final double[][] rows;

    /** A reusable evaluator for images of one shape: it allocates its buffers once. */
    public Ssim(int channels, int h, int w, Options o) {
        if (channels < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException("bad image shape " + channels + "x" + h + "x" + w);
        }
        if (h < o.winSize() || w < o.winSize()) {
            throw new IllegalArgumentException("window " + o.winSize() + " exceeds the image extent " + h + "x" + w);
        }
        this.options = o;
        this.channels = channels;
        this.h = h;
        this.w = w;
        int r = o.radius();
        this.weights = weights(o, r);
        this.rowIndex = reflectIndex(h, r);
        this.colIndex = reflectIndex(w, r);
        this.x = new double[h * w];
        this.y = new double[h * w];
        this.rows = new double[5][h * w];
    }

    /** SSIM of two images of {@code channels × h × w} floats in CHW order. */
    public static double ssim(float[] a, float[] b, int channels, int h, int w, Options o) {
        return new Ssim(channels, h, w, o).of(a, 0, b, 0);
    }

    /** SSIM of the CHW images starting at {@code offsetA} in {@code a} and {@code offsetB} in {@code b}. */
    public double of(float[] a, int offsetA, float[] b, int offsetB) {
        int plane = h * w;
        if (offsetA < 0 || offsetB < 0 || offsetA + channels * plane > a.length || offsetB + channels * plane > b.length) {
            throw new IllegalArgumentException("image out of the arrays' bounds");
        }
        double sum = 0;
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < plane; i++) {
                x[i] = a[offsetA + c * plane + i];
                y[i] = b[offsetB + c * plane + i];
            }
            sum += channel();
        }
        return sum / channels;
    }

    private double channel() {
        int r = weights.length / 2;
        int taps = weights.length;
        int pad = (options.winSize() - 1) / 2;
        double[] fx = rows[0];
        double[] fy = rows[1];
        double[] fxx = rows[2];
        double[] fyy = rows[3];
        double[] fxy = rows[4];
        // Horizontal pass on every row (the vertical pass reads rows outside the crop), cropped columns only.
        for (int i = 0; i < h; i++) {
            int base = i * w;
            for (int j = pad; j < w - pad; j++) {
                double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                for (int t = 0; t < taps; t++) {
                    int m = base + colIndex[j + t];
                    double k = weights[t];
                    double xv = x[m];
                    double yv = y[m];
                    sx += k * xv;
                    sy += k * yv;
                    sxx += k * (xv * xv);
                    syy += k * (yv * yv);
                    sxy += k * (xv * yv);
                }
                fx[base + j] = sx;
                fy[base + j] = sy;
                fxx[base + j] = sxx;
                fyy[base + j] = syy;
                fxy[base + j] = sxy;
            }
        }
        double np = (double) options.winSize() * options.winSize();
        double covNorm = options.sampleCovariance() ? np / (np - 1) : 1.0;
        double c1 = (K1 * options.dataRange()) * (K1 * options.dataRange());
        double c2 = (K2 * options.dataRange()) * (K2 * options.dataRange());
        double total = 0;
        for (int i = pad; i < h - pad; i++) {
            for (int j = pad; j < w - pad; j++) {
                double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
                for (int t = 0; t < taps; t++) {
                    int m = rowIndex[i + t] * w + j;
                    double k = weights[t];
                    ux += k * fx[m];
                    uy += k * fy[m];
                    uxx += k * fxx[m];
                    uyy += k * fyy[m];
                    uxy += k * fxy[m];
                }
                double vx = covNorm * (uxx - ux * ux);
                double vy = covNorm * (uyy - uy * uy);
                double vxy = covNorm * (uxy - ux * uy);
                double a1 = 2 * ux * uy + c1;
                double a2 = 2 * vxy + c2;
                double b1 = ux * ux + uy * uy + c1;
                double b2 = vx + vy + c2;
                total += (a1 * a2) / (b1 * b2);
            }
        }
        return total / ((double) (h - 2 * pad) * (w - 2 * pad));
    }

    static double[] weights(Options o, int r) {
        double[] k = new double[2 * r + 1];
        if (!o.gaussian()) {
            java.util.Arrays.fill(k, 1.0 / k.length);
            return k;
        }
        // scipy.ndimage._gaussian_kernel1d: exp(-x²/(2σ²)) normalised to sum 1
        double s2 = o.sigma() * o.sigma();
        double sum = 0;
        for (int t = -r; t <= r; t++) {
            k[t + r] = Math.exp(-0.5 / s2 * t * t);
            sum += k[t + r];
        }
        for (int t = 0; t < k.length; t++) {
            k[t] /= sum;
        }
        return k;
    }

    /** Source index of padded position p (the position p - r of the axis), scipy's 'reflect' mode. */
    static int[] reflectIndex(int n, int r) {
        int[] idx = new int[n + 2 * r];
        for (int p = 0; p < idx.length; p++) {
            int i = Math.floorMod(p - r, 2 * n);
            idx[p] = i >= n ? 2 * n - 1 - i : i;
        }
        return idx;
    }
}
