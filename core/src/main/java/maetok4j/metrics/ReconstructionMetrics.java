package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.data.ImageTensors;

import java.util.stream.IntStream;

/**
 * Streaming PSNR and SSIM over batches of reconstructions, in the protocol of the reference evaluation
 * ({@code inference/reconstruct_vq.py} at f4d60a0):
 * <ul>
 *   <li>the ground truth is the unquantised input mapped to [0, 1] as {@code (x + 1)/2};</li>
 *   <li>the reconstruction is quantised to uint8 as {@code clamp(127.5·y + 128, 0, 255)} truncated
 *       ({@link ImageTensors#quantize(float)}), then divided by 255;</li>
 *   <li>PSNR per image with data range 1 ({@link Psnr#unitRange});</li>
 *   <li>SSIM per image ({@link Ssim}, mean over the three channels); the reference uses scikit-image's
 *       defaults with {@code data_range=2.0} ({@link Ssim.Options#referenceEval()});</li>
 *   <li>both averaged over all images.</li>
 * </ul>
 * Not thread-safe; one instance serves images of one size.
 */
public final class ReconstructionMetrics {

    private final Ssim.Options ssimOptions;
    // one evaluator per thread: images are scored in parallel, each Ssim owns scratch buffers
    private ThreadLocal<Ssim> ssim;
    private Shape imageShape;
    private long count;
    private double psnrSum;
    private double ssimSum;

    /** The reference protocol. */
    public ReconstructionMetrics() {
        this(Ssim.Options.referenceEval());
    }

    /** The reference protocol with other SSIM options (the data range applies to [0, 1] images). */
    public ReconstructionMetrics(Ssim.Options ssimOptions) {
        this.ssimOptions = ssimOptions;
    }

    /** Adds a batch: {@code originals} and {@code reconstructions} [B, C, H, W] in [-1, 1]. */
    public void add(NDArray originals, NDArray reconstructions) {
        Shape s = originals.getShape();
        if (!s.equals(reconstructions.getShape()) || s.dimension() != 4) {
            throw new IllegalArgumentException("expected two [B, C, H, W] batches, got " + s + " and " + reconstructions.getShape());
        }
        Shape image = s.slice(1);
        if (imageShape == null) {
            imageShape = image;
            ssim = ThreadLocal.withInitial(() -> new Ssim((int) image.get(0), (int) image.get(1), (int) image.get(2), ssimOptions));
        } else if (!imageShape.equals(image)) {
            throw new IllegalArgumentException("images of " + image + " after images of " + imageShape);
        }
        float[] truth = Psnr.toUnit(originals.toType(DataType.FLOAT32, false).toFloatArray());
        float[] rec = reconstructions.toType(DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < rec.length; i++) {
            rec[i] = ImageTensors.quantize(rec[i]) / 255f;
        }
        int size = (int) image.size();
        int batch = (int) s.get(0);
        double[] psnr = new double[batch];
        double[] ssims = new double[batch];
        IntStream.range(0, batch).parallel().forEach(b -> {
            psnr[b] = Psnr.unitRange(truth, rec, b * size, size);
            // the reference passes the reconstruction first; SSIM is symmetric, so the order does not matter
            ssims[b] = ssim.get().of(rec, b * size, truth, b * size);
        });
        for (int b = 0; b < batch; b++) { // summed in image order, so the result does not depend on the threads
            psnrSum += psnr[b];
            ssimSum += ssims[b];
        }
        count += s.get(0);
    }

    public long count() {
        return count;
    }

    /** Mean per-image PSNR in dB (NaN before any image). */
    public double psnr() {
        return count == 0 ? Double.NaN : psnrSum / count;
    }

    /** Mean per-image SSIM (NaN before any image). */
    public double ssim() {
        return count == 0 ? Double.NaN : ssimSum / count;
    }
}
