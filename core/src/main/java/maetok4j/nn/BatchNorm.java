package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * {@code nn.BatchNorm1d}/{@code BatchNorm2d} (channels on axis 1 of [B, C], [B, C, L] or [B, C, H, W]):
 * affine {@code weight}/{@code bias} and the buffers {@code running_mean}, {@code running_var},
 * {@code num_batches_tracked} under torch's keys. In training mode the batch statistics normalise and the
 * running statistics move in place by {@code momentum} (unbiased variance), outside the autograd graph, and
 * the batch counter grows by one; in evaluation mode the running statistics normalise.
 *
 * <p>The batch counter is float32 here (every tensor of a {@link Module} is); torch's int64 buffer loads
 * from and into it unchanged for any count below 2^24.
 */
public final class BatchNorm extends Module {

    public static final double MOMENTUM = 0.1;

    private final int features;
    private final double eps;
    private final double momentum;
    private final Parameter weight;
    private final Parameter bias;
    private final Parameter runningMean;
    private final Parameter runningVar;
    private final Parameter batchesTracked;

    /** torch's defaults: eps 1e-5, momentum 0.1, weight 1, bias 0. */
    public BatchNorm(int features) {
        this(features, 1e-5, MOMENTUM, Init.constant(1f));
    }

    public BatchNorm(int features, double eps, double momentum, Init weightInit) {
        if (features <= 0 || !(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("BatchNorm needs features > 0, eps > 0, momentum in [0, 1]");
        }
        this.features = features;
        this.eps = eps;
        this.momentum = momentum;
        weight = parameter("weight", new Shape(features), weightInit);
        bias = parameter("bias", new Shape(features), Init.zeros());
        runningMean = buffer("running_mean", new Shape(features), Init.zeros());
        runningVar = buffer("running_var", new Shape(features), Init.constant(1f));
        batchesTracked = buffer("num_batches_tracked", new Shape(), Init.zeros());
    }

    public NDArray forward(NDArray x) {
        Shape s = x.getShape();
        if (s.dimension() < 2 || s.get(1) != features) {
            throw new IllegalArgumentException("BatchNorm(" + features + ") expects [B, " + features + ", ...], got " + s);
        }
        boolean training = isTraining();
        if (training) {
            batchesTracked.array().addi(1f);
        }
        // at::batch_norm updates the running statistics in place when training, as torch's module does
        return JniUtils.batchNorm((PtNDArray) x, (PtNDArray) runningMean.array(), (PtNDArray) runningVar.array(),
                (PtNDArray) weight.array(), (PtNDArray) bias.array(), training, momentum, eps);
    }
}
