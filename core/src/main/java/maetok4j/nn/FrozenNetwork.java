package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * A pretrained network used as a fixed function inside a loss (perceptual features, teacher features,
 * a discriminator backbone): its weights never train, but gradients flow through it to its input.
 */
public interface FrozenNetwork extends AutoCloseable {

    /** Runs the network on {@code input}; the outputs belong to the input's manager. */
    NDList forward(NDArray input);

    @Override
    void close();
}
