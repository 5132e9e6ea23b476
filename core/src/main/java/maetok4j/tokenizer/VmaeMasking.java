package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Init;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;
import java.util.Comparator;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;

/**
 * The training-only part of the VMAE: MAE-style random masking that <em>drops</em> patch tokens before the
 * encoder, and the learnable {@code mask_token} the decoder puts back in their place (spec §2.3; the
 * reference's {@code random_masking}, {@code forward_encoder} and {@code forward_decoder}).
 *
 * <pre>
 *   encoder: patch_embed + pos_embed [B, N, D] ─ {@link #keepVisible} ─► [B, K, D] ─ blocks …
 *   decoder: decoder_embed(from_latent(z)) [B, K, D] ─ {@link #restore} (mask_token at the dropped places) ─► [B, N, D]
 *            ─ + decoder_pos_embed ─ decoder_blocks …
 * </pre>
 *
 * The encoder's position table is added before dropping, so every kept token keeps its own position; the
 * decoder's is added after restoring, so the mask tokens learn one vector and get their position from the table.
 *
 * <p>The inference model ({@link VMAE}) has no mask token (the released checkpoint was trained on in
 * {@code ldmae_mode}, which removes it), so this module holds it: a trainer optimises it together with the
 * VMAE and saves it under the reference's key {@code mask_token} [1, 1, D], initialised N(0, 0.02²) like
 * the reference's {@code initialize_weights}.
 */
public final class VmaeMasking extends Module {

    /** [1, 1, D_dec]; a 3-D tensor, so weight decay applies to it as in the reference's {@code param_groups_weight_decay}. */
    public final Parameter maskToken;

    public VmaeMasking(VmaeConfig config) {
        maskToken = parameter("mask_token", new Shape(1, 1, config.decoder().embedDim()), Init.normal(0.02));
    }

    /**
     * Which patch tokens each sample keeps, in the reference's terms: {@code keep[b]} is {@code ids_keep}
     * (the first K entries of {@code ids_shuffle}) and {@code restore[b]} is {@code ids_restore}, the position
     * in the shuffled order of each original patch.
     */
    public record Mask(int batch, int patches, int[][] keep, int[][] restore) {

        public Mask {
            if (batch < 1 || patches < 1 || keep.length != batch || restore.length != batch) {
                throw new IllegalArgumentException("a mask needs one keep and one restore row per sample");
            }
            keep = Arrays.stream(keep).map(int[]::clone).toArray(int[][]::new);
            restore = Arrays.stream(restore).map(int[]::clone).toArray(int[][]::new);
        }

        /**
         * The reference's {@code random_masking} given its noise: per sample, patches sorted by ascending
         * noise, the first {@link #visibleCount} kept.
         *
         * @param noise [batch * patches] row-major, uniform in [0, 1) (the reference's {@code torch.rand(N, L)})
         */
        public static Mask fromNoise(float[] noise, int batch, int patches, double ratio) {
            if (noise.length != (long) batch * patches) {
                throw new IllegalArgumentException("noise has " + noise.length + " values, expected " + batch + " x " + patches);
            }
            int k = visibleCount(patches, ratio);
            int[][] keep = new int[batch][];
            int[][] restore = new int[batch][patches];
            for (int b = 0; b < batch; b++) {
                int row = b * patches;
                int[] shuffle = IntStream.range(0, patches).boxed()
                        .sorted(Comparator.comparingDouble(i -> noise[row + i]))
                        .mapToInt(Integer::intValue).toArray(); // ids_shuffle: ascending noise, small is keep
                for (int j = 0; j < patches; j++) {
                    restore[b][shuffle[j]] = j; // ids_restore = argsort(ids_shuffle)
                }
                keep[b] = Arrays.copyOf(shuffle, k);
            }
            return new Mask(batch, patches, keep, restore);
        }

        /** K, the tokens each sample keeps. */
        public int visible() {
            return keep[0].length;
        }

        @Override
        public int[][] keep() {
            return Arrays.stream(keep).map(int[]::clone).toArray(int[][]::new);
        }

        @Override
        public int[][] restore() {
            return Arrays.stream(restore).map(int[]::clone).toArray(int[][]::new);
        }

        /** The reference's binary {@code mask} [batch * patches] row-major: 0 where the encoder saw the patch, 1 where it was dropped. */
        public float[] dropped() {
            float[] m = new float[batch * patches];
            int k = visible();
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < patches; i++) {
                    m[b * patches + i] = restore[b][i] < k ? 0f : 1f;
                }
            }
            return m;
        }
    }

    /**
     * {@code int(N·(1 − ratio))}, the reference's {@code len_keep} (Python truncation of a double). Rejects a
     * ratio that leaves the encoder nothing to see.
     */
    public static int visibleCount(int patches, double ratio) {
        if (!(ratio >= 0 && ratio < 1)) {
            throw new IllegalArgumentException("mask ratio must be in [0, 1), got " + ratio);
        }
        int k = (int) (patches * (1 - ratio));
        if (k < 1) {
            throw new IllegalArgumentException("mask ratio " + ratio + " keeps no patch of " + patches);
        }
        return k;
    }

    /** The masking noise [batch * patches], uniform floats in [0, 1) from {@code rng}, row-major by sample. */
    public static float[] noise(RandomGenerator rng, int batch, int patches) {
        float[] noise = new float[batch * patches];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = rng.nextFloat();
        }
        return noise;
    }

    /** tokens [B, N, D] → the kept tokens [B, K, D] in shuffled order ({@code torch.gather(x, 1, ids_keep)}). */
    public static NDArray keepVisible(NDArray tokens, Mask mask) {
        checkTokens(tokens, mask, mask.patches());
        return tokens.gather(index(tokens, mask.keep, tokens.getShape().get(2)), 1);
    }

    /**
     * Decoder tokens of the kept patches [B, K, D] → [B, N, D] in the original patch order, the mask token at
     * every dropped patch: the reference's {@code cat([x, mask_tokens], 1)} then {@code gather(…, ids_restore)}.
     */
    public NDArray restore(NDArray visible, Mask mask) {
        checkTokens(visible, mask, mask.visible());
        long b = mask.batch();
        long d = visible.getShape().get(2);
        // ones [B, N−K, 1] made in the tokens' manager times the [1, 1, D] token: the copies live in the caller's
        // scope (an op's result belongs to its first operand's manager) and the gradient still reaches the token.
        NDArray ones = visible.getManager().ones(new Shape(b, mask.patches() - mask.visible(), 1), visible.getDataType());
        NDArray tokens = visible.concat(ones.mul(maskToken.array()), 1); // [B, N, D], shuffled order
        return tokens.gather(index(visible, mask.restore, d), 1); // [B, N, D], original order
    }

    /** A gather index [B, L, D] repeating each row's patch ids over the D channels, as the reference's {@code index.unsqueeze(-1).repeat(1, 1, D)}. */
    private static NDArray index(NDArray like, int[][] ids, long d) {
        int b = ids.length;
        int l = ids[0].length;
        long[] flat = new long[Math.toIntExact(b * l * d)];
        int o = 0;
        for (int[] row : ids) {
            for (int id : row) {
                Arrays.fill(flat, o, o + (int) d, id);
                o += (int) d;
            }
        }
        return OwnedArrays.of(like.getManager(), flat, new Shape(b, l, d));
    }

    private static void checkTokens(NDArray tokens, Mask mask, int length) {
        Shape s = tokens.getShape();
        if (s.dimension() != 3 || s.get(0) != mask.batch() || s.get(1) != length) {
            throw new IllegalArgumentException("expected tokens [" + mask.batch() + ", " + length + ", D], got " + s);
        }
    }
}
