package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

/**
 * {@code nn.Conv1d} with stride 1, symmetric padding (zeros or circular, as {@code padding_mode}) and
 * PyTorch's default initialisation, optionally under {@link SpectralNorm} (then the weight's keys are
 * {@code weight_orig}, {@code weight_u}, {@code weight_v}, registered after {@code bias} as torch does).
 */
public final class Conv1d extends Module {

    public enum Padding { ZEROS, CIRCULAR }

    private final Parameter weight;
    private final SpectralNorm spectral;
    private final Parameter bias;
    private final int padding;
    private final Padding mode;

    public Conv1d(int in, int out, int kernel, int padding, Padding mode, boolean spectralNorm) {
        if (in <= 0 || out <= 0 || kernel <= 0 || padding < 0) {
            throw new IllegalArgumentException("Conv1d needs positive channels and kernel, padding >= 0");
        }
        long fanIn = (long) in * kernel;
        Shape shape = new Shape(out, in, kernel);
        if (spectralNorm) {
            // torch deletes 'weight' and appends 'weight_orig' after 'bias'
            bias = parameter("bias", new Shape(out), Init.uniformFanIn(fanIn));
            spectral = new SpectralNorm(this, "weight", shape, Init.uniformFanIn(fanIn));
            weight = null;
        } else {
            weight = parameter("weight", shape, Init.uniformFanIn(fanIn));
            bias = parameter("bias", new Shape(out), Init.uniformFanIn(fanIn));
            spectral = null;
        }
        this.padding = padding;
        this.mode = mode;
    }

    /** The trained kernel tensor ({@code weight}, or {@code weight_orig} under spectral normalisation). */
    public Parameter kernel() {
        return spectral != null ? spectral.weightOrig() : weight;
    }

    /** x [B, in, T] → [B, out, T + 2·padding − kernel + 1]. */
    public NDArray forward(NDArray x) {
        NDArray w = spectral != null ? spectral.weight(isTraining()) : weight.array();
        int p = padding;
        if (mode == Padding.CIRCULAR && p > 0) {
            long t = x.getShape().get(2);
            if (p > t) {
                throw new IllegalArgumentException("circular padding " + p + " exceeds the sequence length " + t);
            }
            // F.pad(x, (p, p), mode='circular'): the last p steps in front, the first p behind
            x = NDArrays.concat(new NDList(x.get(":, :, " + (t - p) + ":"), x, x.get(":, :, :" + p)), 2);
            p = 0;
        }
        return ai.djl.nn.convolutional.Conv1d.conv1d(x, w, bias.array(), new Shape(1), new Shape(p), new Shape(1), 1)
                .singletonOrThrow();
    }
}
