package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** timm's {@code PatchEmbed}: a p×p stride-p convolution, flattened to raster-ordered tokens [B, N, D]. */
public final class PatchEmbed extends Module {

    public final int imageSize;
    public final int patchSize;
    public final int dim;
    public final Conv2d proj;

    public PatchEmbed(int imageSize, int patchSize, int inChannels, int dim) {
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        this.dim = dim;
        proj = child("proj", new Conv2d(inChannels, dim, patchSize, patchSize, 0));
    }

    public int gridSize() {
        return imageSize / patchSize;
    }

    public int numPatches() {
        return gridSize() * gridSize();
    }

    public NDArray forward(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || s.get(2) != imageSize || s.get(3) != imageSize) {
            throw new IllegalArgumentException("expected images [B, 3, " + imageSize + ", " + imageSize + "], got " + s);
        }
        NDArray x = proj.forward(images); // [B, D, h, w]
        return x.reshape(s.get(0), dim, numPatches()).transpose(0, 2, 1); // [B, N, D]
    }

    public long flops() {
        return 2L * numPatches() * dim * 3L * patchSize * patchSize;
    }
}
