package maetok4j.losses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.nn.Module;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Safetensors;


/**
 * A GAN discriminator of the tokenizer's adversarial loss: images in [-1, 1] to real/fake logits. Its
 * trainable tensors are a {@link Module} tree with the reference's state-dict keys; it owns the manager
 * holding them (and, for networks built on a frozen backbone, the backbone), released by {@link #close}.
 *
 * <p>{@link #forward} is a training-time call: gradients reach both the trainable tensors and the input,
 * and in training mode it advances the normalisation statistics. Its intermediates live in a child scope
 * of the input's manager that closes before it returns, so only the logits stay, in the caller's manager.
 */
public abstract class Discriminator extends Module implements AutoCloseable {

    private NDManager manager;

    /** The logits, [B, ...] (a patch map or per-token scores; losses average over everything). */
    public abstract NDArray forward(NDArray images);

    /** The reference's {@code disc_type} name of this architecture. */
    public abstract String kind();

    /** The manager that owns this network's tensors. */
    public final NDManager manager() {
        if (manager == null) {
            throw new IllegalStateException(kind() + " discriminator has no tensors: create it or load it first, or it was closed");
        }
        return manager;
    }

    /** Gives the tensors their seeded initial values in a new child manager of {@code parent}. */
    protected final void allocate(NDManager parent, long seed) {
        if (manager != null) {
            throw new IllegalStateException("already allocated");
        }
        manager = parent.newSubManager();
        initialize(manager, seed);
    }

    /** Replaces every tensor by the file's (strictly: same keys, same shapes); the file may be PyTorch's. */
    public final void load(Safetensors file) {
        StateDict.load(this, file, manager(), StateDict.Mode.STRICT);
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
