package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;

/**
 * How latents are scaled for a diffusion model and back (spec §1.13, §2.6): {@code z_n = (z − mean) / std} on the
 * way in, {@code z = z_n·std + mean} before decoding. Scalar (MAETok's {@code vq_mean}/{@code vq_std}: one pair) or
 * per channel (LDMAE's {@code latents_stats.pt}: one pair per channel along {@code channelAxis} of a latent).
 *
 * @param latentShape one image's latent shape, e.g. [L, H] or [C, h, w]
 * @param channelAxis the axis of {@code latentShape} holding the channels (used when per channel)
 * @param mean one value (scalar) or one per channel
 * @param std as {@code mean}; every value positive
 */
public record LatentNormalization(long[] latentShape, int channelAxis, double[] mean, double[] std) {

    public LatentNormalization {
        if (latentShape.length == 0 || channelAxis < 0 || channelAxis >= latentShape.length) {
            throw new IllegalArgumentException("channel axis " + channelAxis + " outside latent shape " + Arrays.toString(latentShape));
        }
        if (mean.length != std.length || (mean.length != 1 && mean.length != latentShape[channelAxis])) {
            throw new IllegalArgumentException("latent normalisation needs 1 or " + latentShape[channelAxis] + " (mean, std) pairs, got "
                    + mean.length + " means and " + std.length + " stds");
        }
        for (int i = 0; i < std.length; i++) {
            if (!(std[i] > 0) || !Double.isFinite(std[i]) || !Double.isFinite(mean[i])) {
                throw new IllegalArgumentException("latent normalisation: std must be positive and mean finite, got mean " + mean[i]
                        + ", std " + std[i] + (std.length > 1 ? " for channel " + i : ""));
            }
        }
        latentShape = latentShape.clone();
        mean = mean.clone();
        std = std.clone();
    }

    /** The pair(s) a latent store's statistics give: scalar, or one per channel. */
    public static LatentNormalization of(LatentStatistics.Summary stats, int channelAxis, boolean perChannel) {
        return perChannel
                ? new LatentNormalization(stats.latentShape(), channelAxis, stats.channelMean(), stats.channelStd())
                : new LatentNormalization(stats.latentShape(), channelAxis, new double[] {stats.mean()}, new double[] {stats.std()});
    }

    /** No scaling at all: mean 0, std 1. */
    public static LatentNormalization identity(long[] latentShape, int channelAxis) {
        return new LatentNormalization(latentShape, channelAxis, new double[] {0}, new double[] {1});
    }

    public boolean perChannel() {
        return mean.length > 1;
    }

    /** latents [B, latentShape...] → {@code (z − mean) / std}, in z's manager. */
    public NDArray normalize(NDArray z) {
        check(z);
        return z.sub(broadcast(z, mean)).div(broadcast(z, std));
    }

    /** The inverse: {@code z_n·std + mean}. */
    public NDArray denormalize(NDArray zn) {
        check(zn);
        return zn.mul(broadcast(zn, std)).add(broadcast(zn, mean));
    }

    private void check(NDArray z) {
        long[] s = z.getShape().getShape();
        if (s.length != latentShape.length + 1 || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), latentShape)) {
            throw new IllegalArgumentException("latent normalisation was made for latents [B, "
                    + Arrays.toString(latentShape).replaceAll("[\\[\\]]", "") + "], got " + z.getShape());
        }
    }

    /** values as an array that broadcasts against [B, latentShape...] along the channel axis. */
    private NDArray broadcast(NDArray like, double[] values) {
        long[] shape = new long[latentShape.length + 1];
        Arrays.fill(shape, 1);
        if (values.length > 1) {
            shape[channelAxis + 1] = values.length;
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return OwnedArrays.of(like.getManager(), f, new Shape(shape)).toType(like.getDataType(), false);
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        Arrays.stream(latentShape).forEach(o.putArray("latent_shape")::add);
        o.put("channel_axis", channelAxis).put("per_channel", perChannel());
        Arrays.stream(mean).forEach(o.putArray("mean")::add);
        Arrays.stream(std).forEach(o.putArray("std")::add);
        return o;
    }

    /** Reads what {@link #toJson} wrote; {@code source} names the file in errors. */
    public static LatentNormalization fromJson(JsonNode o, String source) {
        for (String key : new String[] {"latent_shape", "channel_axis", "mean", "std"}) {
            if (o == null || !o.has(key)) {
                throw new IllegalArgumentException(source + ": latent normalisation needs '" + key + "'");
            }
        }
        try {
            long[] shape = new long[o.get("latent_shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = o.get("latent_shape").get(i).asLong();
            }
            return new LatentNormalization(shape, o.get("channel_axis").asInt(), doubles(o.get("mean")), doubles(o.get("std")));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LatentNormalization n && n.channelAxis == channelAxis && Arrays.equals(n.latentShape, latentShape)
                && Arrays.equals(n.mean, mean) && Arrays.equals(n.std, std);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(mean) * 31 + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return (perChannel() ? "per-channel" : "scalar") + " mean " + Arrays.toString(mean) + ", std " + Arrays.toString(std);
    }
}
