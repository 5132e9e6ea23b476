package maetok4j.losses;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import maetok4j.nn.BatchNorm;
import maetok4j.nn.Conv1d;
import maetok4j.nn.FrozenNetwork;
import maetok4j.nn.Init;
import maetok4j.nn.Module;
import maetok4j.nn.ModuleList;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The reference's {@code DinoDisc} (from VAR): a frozen ViT backbone (DINO ViT-S/16 in the reference) and
 * one small trainable 1-D convolutional head per feature level, scoring every token.
 *
 * <p><b>Backbone contract.</b> The {@link FrozenNetwork} receives ImageNet-normalised images
 * [B, 3, S, S] (S = {@link Config#imageSize}) and returns {@link Config#features} tensors [B, T, C]
 * (C = {@link Config#embedDim}, the same T for all): the reference takes the token sequence after patch
 * embedding plus absolute position embedding and after blocks 2, 5, 8 and 11, and "reads out" each as
 * {@code tokens + CLS} with the CLS row itself dropped (for ViT-S/16 at 224: T = 196, C = 384). Gradients
 * must flow through it to its input (the generator's adversarial loss needs them); its weights never train
 * and are not part of this module's state dict. This discriminator takes ownership of the backbone and
 * closes it in {@link #close}.
 *
 * <p><b>Input mapping.</b> Images in [-1, 1] become {@code ((x+1)/2 − mean)/std} with ImageNet's
 * statistics; if both sides exceed S, with probability 1/2 one random S×S window (the same for the whole
 * batch) is cut out, otherwise the batch is resized to S×S (area averaging when shrinking, bicubic when
 * enlarging).
 *
 * <p><b>Heads</b> (keys {@code heads.<i>.…}): {@code 0} = [SpectralNorm Conv1d(C, C, k=1), BatchNorm,
 * LeakyReLU(0.2)]; {@code 1.fn} = the same with k = 9 and circular padding, added to its input and scaled
 * by 1/√2; {@code 2} = SpectralNorm Conv1d(C, 1, k=1). The reference's SyncBatchNorm (eps 1e-6) behaves as
 * BatchNorm1d in one process, which is what this is. Logits are the heads' outputs concatenated, [B, n·T].
 */
public final class DinoDiscriminator extends Discriminator {

    /** The reference's {@code DinoDisc} arguments that shape the heads and the backbone's input. */
    public record Config(int embedDim, int features, int kernelSize, int imageSize, double normEps, boolean spectralNorm) {

        public Config {
            if (embedDim <= 0 || features <= 0 || kernelSize <= 0 || kernelSize % 2 == 0 || imageSize <= 0 || !(normEps > 0)) {
                throw new IllegalArgumentException("DINO discriminator needs positive dims, an odd kernel and eps > 0");
            }
        }

        /** ViT-S/16 at 224 px, features after patch embedding and blocks 2, 5, 8, 11, k = 9, eps 1e-6, spectral norm. */
        public static Config defaults() {
            return new Config(384, 5, 9, 224, 1e-6, true);
        }
    }

    static final float SLOPE = 0.2f;
    /** ImageNet statistics, float32 as torch keeps them. */
    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};

    private final Config config;
    private final FrozenNetwork backbone;
    private final RandomGenerator rng;
    private final ModuleList<Head> heads;

    /**
     * @param backbone the frozen feature network (see the class comment), owned from now on
     * @param rng draws the crop-or-resize choice and the crop window
     */
    public DinoDiscriminator(Config config, FrozenNetwork backbone, RandomGenerator rng) {
        this.config = config;
        this.backbone = backbone;
        this.rng = rng;
        List<Head> list = new ArrayList<>();
        for (int i = 0; i < config.features(); i++) {
            list.add(new Head(config));
        }
        heads = child("heads", new ModuleList<>(list));
    }

    /** A discriminator with randomly initialised heads in a child manager of {@code parent}. */
    public static DinoDiscriminator create(Config config, FrozenNetwork backbone, RandomGenerator rng, NDManager parent, long seed) {
        DinoDiscriminator d = new DinoDiscriminator(config, backbone, rng);
        try {
            d.allocate(parent, seed);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    public Config config() {
        return config;
    }

    @Override
    public String kind() {
        return "dino";
    }

    /** images [B, 3, H, W] in [-1, 1] → logits [B, features·T]. */
    @Override
    public NDArray forward(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || s.get(1) != 3) {
            throw new IllegalArgumentException("images must be [B, 3, H, W], got " + s);
        }
        return scoped(images, x -> heads(backbone.forward(toBackbone(x, config.imageSize(), rng))));
    }

    /**
     * The trainable part alone: backbone features, each [B, T, C], → logits [B, features·T]. Unlike
     * {@link #forward} it runs unscoped: intermediates belong to the first feature's manager.
     */
    public NDArray heads(NDList features) {
        if (features.size() != config.features()) {
            throw new IllegalArgumentException("the backbone returned " + features.size() + " feature tensors, the heads expect "
                    + config.features());
        }
        NDList logits = new NDList();
        for (int i = 0; i < features.size(); i++) {
            NDArray f = features.get(i);
            Shape fs = f.getShape();
            if (fs.dimension() != 3 || fs.get(2) != config.embedDim()) {
                throw new IllegalArgumentException("feature " + i + " must be [B, T, " + config.embedDim() + "], got " + fs);
            }
            NDArray out = heads.get(i).forward(f.transpose(0, 2, 1)); // [B, 1, T]
            logits.add(out.reshape(fs.get(0), -1));
        }
        return NDArrays.concat(logits, 1); // [B, features·T]
    }

    /** [-1, 1] images → ImageNet-normalised [B, 3, size, size], cropped or resized as the reference does. */
    static NDArray toBackbone(NDArray images, int size, RandomGenerator rng) {
        NDArray x = imagenet(images);
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        if (h > size && w > size && rng.nextDouble() <= 0.5) {
            // torchvision's RandomCrop on a batch: one window for every image
            int top = rng.nextInt(Math.toIntExact(h - size + 1));
            int left = rng.nextInt(Math.toIntExact(w - size + 1));
            return crop(x, size, top, left);
        }
        return resize(x, size);
    }

    /** x·(0.5/std) + (0.5 − mean)/std per channel: ((x+1)/2 − mean)/std with torch's float32 constants. */
    static NDArray imagenet(NDArray images) {
        float[] scale = new float[3];
        float[] shift = new float[3];
        for (int c = 0; c < 3; c++) {
            scale[c] = 0.5f / STD[c];
            shift[c] = (0.5f - MEAN[c]) / STD[c];
        }
        NDManager m = images.getManager();
        try (NDArray sc = OwnedArrays.of(m, scale, new Shape(1, 3, 1, 1)); NDArray sh = OwnedArrays.of(m, shift, new Shape(1, 3, 1, 1))) {
            return images.mul(sc).add(sh);
        }
    }

    static NDArray crop(NDArray x, int size, int top, int left) {
        return x.get(":, :, " + top + ":" + (top + size) + ", " + left + ":" + (left + size));
    }

    /** {@code F.interpolate(x, (size, size), mode='area' if H > size else 'bicubic')}. */
    static NDArray resize(NDArray x, int size) {
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        if (h == size && w == size) {
            return x; // bicubic at scale 1 samples every pixel with weights (0, 1, 0, 0): the identity
        }
        if (h > size) {
            // torch's 'area' mode is adaptive average pooling
            return JniUtils.adaptiveAvgPool((PtNDArray) x, new Shape(size, size));
        }
        // DJL's bicubic mode is the anti-aliased one (a = -0.5); torch's plain bicubic is separable, so
        // it is two products with interpolation matrices: [size, H] · x · [W, size]
        NDManager m = x.getManager();
        try (NDArray rows = OwnedArrays.of(m, bicubicMatrix(Math.toIntExact(h), size), new Shape(size, h));
                NDArray cols = OwnedArrays.of(m, bicubicMatrix(Math.toIntExact(w), size), new Shape(size, w));
                NDArray colsT = cols.transpose()) {
            return rows.matMul(x).matMul(colsT); // [B, C, size, size]
        }
    }

    /**
     * The [out, in] matrix of {@code upsample_bicubic2d} with align_corners = false: output i samples
     * source position (i + 0.5)·in/out − 0.5 with Keys' cubic (a = −0.75) over four taps clamped to the edge.
     */
    static float[] bicubicMatrix(int in, int out) {
        float[] mat = new float[out * in];
        double scale = (double) in / out;
        double a = -0.75;
        for (int i = 0; i < out; i++) {
            double src = (i + 0.5) * scale - 0.5;
            int base = (int) Math.floor(src);
            double t = src - base;
            double[] c = {
                ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                ((a + 2) * t - (a + 3)) * t * t + 1,
                ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a};
            for (int k = 0; k < 4; k++) {
                int j = Math.min(Math.max(base - 1 + k, 0), in - 1);
                mat[i * in + j] += (float) c[k];
            }
        }
        return mat;
    }

    @Override
    public void close() {
        try {
            backbone.close();
        } finally {
            super.close();
        }
    }

    /** One head: {@code nn.Sequential(block(k=1), ResidualBlock(block(k)), SpectralConv1d(C, 1, k=1))}. */
    static final class Head extends Module {

        private final Block first;
        private final Residual residual;
        private final Conv1d out;

        Head(Config c) {
            first = child("0", new Block(c, 1));
            residual = child("1", new Residual(new Block(c, c.kernelSize())));
            out = child("2", new Conv1d(c.embedDim(), 1, 1, 0, Conv1d.Padding.ZEROS, c.spectralNorm()));
        }

        /** x [B, C, T] → [B, 1, T]. */
        NDArray forward(NDArray x) {
            return out.forward(residual.forward(first.forward(x)));
        }
    }

    /** The reference's {@code ResidualBlock}: (fn(x) + x)·(1/√2). */
    static final class Residual extends Module {

        private static final float RATIO = (float) (1 / Math.sqrt(2));
        private final Block fn;

        Residual(Block fn) {
            this.fn = child("fn", fn);
        }

        NDArray forward(NDArray x) {
            return OwnedArrays.mul(fn.forward(x).add(x), RATIO);
        }
    }

    /** The reference's {@code make_block}: Conv1d(C, C, k, padding k/2, circular), BatchNorm, LeakyReLU(0.2). */
    static final class Block extends Module {

        private final Conv1d conv;
        private final BatchNorm norm;

        Block(Config c, int kernel) {
            conv = child("0", new Conv1d(c.embedDim(), c.embedDim(), kernel, kernel / 2, Conv1d.Padding.CIRCULAR, c.spectralNorm()));
            norm = child("1", new BatchNorm(c.embedDim(), c.normEps(), BatchNorm.MOMENTUM, Init.constant(1f)));
        }

        NDArray forward(NDArray x) {
            return Activation.leakyRelu(norm.forward(conv.forward(x)), SLOPE);
        }
    }
}
