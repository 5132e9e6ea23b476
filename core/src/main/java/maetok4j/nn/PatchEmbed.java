package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * timm's {@code PatchEmbed}: a p×p stride-p convolution (with bias), flattened to raster-ordered tokens [B, N, D]
 * (token index = row·grid + col). Like timm's (strict image size), it takes only the size it was built for.
 */
public final class PatchEmbed extends Module {

    public final int imageSize;
    public final int patchSize;
    public final int inChannels;
    public final int dim;
    public final Conv2d proj;

    public PatchEmbed(int imageSize, int patchSize, int inChannels, int dim) {
        if (imageSize <= 0 || patchSize <= 0 || imageSize % patchSize != 0 || inChannels <= 0 || dim <= 0) {
            throw new IllegalArgumentException("PatchEmbed needs positive sizes and an image size divisible by the patch, got image "
                    + imageSize + ", patch " + patchSize + ", " + inChannels + " channels, width " + dim);
        }
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        this.inChannels = inChannels;
        this.dim = dim;
        proj = child("proj", new Conv2d(inChannels, dim, patchSize, patchSize, 0));
    }

    public int gridSize() {
        return imageSize / patchSize;
    }

    public int numPatches() {
        return gridSize() * gridSize();
    }

    /** x [B, in_channels, S, S] → [B, N, D]. */
    public NDArray forward(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || s.get(1) != inChannels || s.get(2) != imageSize || s.get(3) != imageSize) {
            throw new IllegalArgumentException("expected images [B, " + inChannels + ", " + imageSize + ", " + imageSize + "], got " + s);
        }
        NDArray x = proj.forward(images); // [B, D, h, w]
        return x.reshape(s.get(0), dim, numPatches()).transpose(0, 2, 1); // [B, N, D]
    }

    public long flops() {
        return 2L * numPatches() * dim * inChannels * patchSize * patchSize;
    }
}
