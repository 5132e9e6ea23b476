package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;

import java.nio.file.Path;

/**
 * An image tokenizer: images [B, 3, S, S] in [-1, 1] to latents and back. Results belong to the manager
 * of the input array; intermediate arrays are released before a call returns. Not thread-safe: one call
 * at a time per instance.
 */
public interface Tokenizer extends AutoCloseable {

    /** The square image size the model takes and produces. */
    int imageSize();

    /** The shape of one image's latent, e.g. [L, H] for MAETok. */
    long[] latentShape();

    NDArray encode(NDArray images);

    NDArray decode(NDArray latents);

    default NDArray reconstruct(NDArray images) {
        try (NDArray z = encode(images)) {
            return decode(z);
        }
    }

    /** Writes the tokenizer as a checkpoint folder: {@code config.json} + {@code model.safetensors}. */
    void save(Path folder);

    /** Architecture summary: parameter counts per part and FLOPs, for {@code maetok info}. */
    TokenizerInfo info();

    @Override
    void close();
}
