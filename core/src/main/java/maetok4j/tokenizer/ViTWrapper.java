package maetok4j.tokenizer;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;
import maetok4j.nn.Rope;

/**
 * What the reference's {@code TimmViTEncoder} and {@code TimmViTDecoder} share: a timm ViT as {@code .model}
 * and the RoPE state. For RoPE-Mixed that is the learned {@code freqs [2, depth, heads*headDim/2]} and the
 * base grid's coordinate buffers {@code freqs_t_x/y}; axial RoPE has fixed frequencies; APE models none.
 */
abstract class ViTWrapper extends Module {

    private TokenizerConfig.Position position;
    private ViTDims dims;
    private double theta;
    private Parameter freqs;
    private Parameter tx;
    private Parameter ty;

    /** Registers the RoPE tensors; call after the wrapper's other own parameters to keep the reference's key order. */
    protected final void registerRope(TokenizerConfig config, ViTDims dims, int patchSize) {
        this.position = config.position();
        this.dims = dims;
        this.theta = config.ropeTheta();
        if (position == TokenizerConfig.Position.ROPE_MIXED) {
            long width = (long) dims.numHeads() * dims.headDim() / 2;
            freqs = parameterNoDecay("freqs", new Shape(2, dims.depth(), width),
                    Rope.mixedInit(dims.depth(), dims.numHeads(), dims.headDim(), theta));
            int base = config.baseImageSize() / patchSize;
            float[][] grid = Rope.grid(base, base);
            tx = buffer("freqs_t_x", new Shape(grid[0].length), (v, s, r) -> System.arraycopy(grid[0], 0, v, 0, v.length));
            ty = buffer("freqs_t_y", new Shape(grid[1].length), (v, s, r) -> System.arraycopy(grid[1], 0, v, 0, v.length));
        }
    }

    /**
     * Rotation tables for {@code prefix} tokens, a {@code grid}×{@code grid} image and {@code latents} latent
     * tokens, or null for APE models. When the grid differs from the buffers' base grid the plain integer
     * coordinates of the actual grid are used, as the reference does.
     */
    protected final Rope.Tables ropeTables(NDManager manager, int grid, int prefix, int latents) {
        switch (position) {
            case ROPE_MIXED: {
                NDArray x = tx.array();
                NDArray y = ty.array();
                if (x.getShape().get(0) != (long) grid * grid) {
                    float[][] g = Rope.grid(grid, grid);
                    x = OwnedArrays.of(manager, g[0]);
                    y = OwnedArrays.of(manager, g[1]);
                }
                return Rope.mixed(freqs.array(), x, y, dims.numHeads(), prefix, latents);
            }
            case ROPE_AXIAL:
                return Rope.axial(manager, dims.headDim(), grid, grid, theta, prefix, latents);
            default:
                return null;
        }
    }
}
