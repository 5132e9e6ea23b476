package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.data.AdmCrop;
import maetok4j.data.ImageTensors;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

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

    /**
     * The axis of {@link #latentShape()} that holds the channels: the last for token latents [L, H] (MAETok),
     * the first for spatial latents [C, h, w].
     */
    default int latentChannelAxis() {
        return latentShape().length - 1;
    }

    NDArray encode(NDArray images);

    NDArray decode(NDArray latents);

    default NDArray reconstruct(NDArray images) {
        try (NDArray z = encode(images)) {
            return decode(z);
        }
    }

    /**
     * Encodes pictures of any size: each is brought to the model's size with the reference evaluation's
     * ADM center crop (box halving, bicubic resize, center crop). The result belongs to {@code manager}.
     */
    default NDArray encodeImages(List<BufferedImage> images, NDManager manager) {
        List<BufferedImage> fitted = images.stream()
                .map(i -> i.getWidth() == imageSize() && i.getHeight() == imageSize() ? i : AdmCrop.centerCrop(i, imageSize()))
                .toList();
        try (NDArray x = ImageTensors.toTensor(fitted, manager)) {
            return encode(x);
        }
    }

    /** Decodes latents to 8-bit RGB pictures, quantised as the reference's evaluation does. */
    default List<BufferedImage> decodeImages(NDArray latents) {
        try (NDArray y = decode(latents)) {
            return ImageTensors.toImages(y);
        }
    }

    /** Writes the tokenizer as a checkpoint folder: {@code config.json} + {@code model.safetensors}. */
    void save(Path folder);

    /** Architecture summary: parameter counts per part and FLOPs, for {@code maetok info}. */
    TokenizerInfo info();

    @Override
    void close();
}
