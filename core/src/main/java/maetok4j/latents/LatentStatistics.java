package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;

/**
 * Running statistics of latents, overall and per channel, in float64: what a diffusion model trained on them
 * will see. The scale matters (SiT and LightningDiT normalise latents by a per-channel or global std, spec §2.6),
 * and a channel with a tiny std is capacity the tokenizer does not use.
 */
public final class LatentStatistics {

    private final long[] latentShape;
    private final int channelAxis;
    private final int channels;
    private final double[] sum;
    private final double[] sumSquares;
    private double min = Double.POSITIVE_INFINITY;
    private double max = Double.NEGATIVE_INFINITY;
    private long latents;
    private long nonFinite;

    /**
     * @param latentShape one image's latent shape, e.g. [L, H] or [C, h, w]
     * @param channelAxis the axis of {@code latentShape} that holds the channels
     */
    public LatentStatistics(long[] latentShape, int channelAxis) {
        if (latentShape.length == 0 || channelAxis < 0 || channelAxis >= latentShape.length) {
            throw new IllegalArgumentException("channel axis " + channelAxis + " outside latent shape " + Arrays.toString(latentShape));
        }
        this.latentShape = latentShape.clone();
        this.channelAxis = channelAxis;
        this.channels = Math.toIntExact(latentShape[channelAxis]);
        this.sum = new double[channels];
        this.sumSquares = new double[channels];
    }

    /** Adds latents [B, latentShape...]. */
    public void add(NDArray batch) {
        long[] s = batch.getShape().getShape();
        if (s.length != latentShape.length + 1 || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), latentShape)) {
            throw new IllegalArgumentException("expected latents [B, " + Arrays.toString(latentShape).replaceAll("[\\[\\]]", "") + "], got "
                    + batch.getShape());
        }
        float[] v = batch.toType(DataType.FLOAT32, false).toFloatArray();
        long inner = 1; // values between consecutive channels: the product of the axes after the channel axis
        for (int a = channelAxis + 1; a < latentShape.length; a++) {
            inner *= latentShape[a];
        }
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (!Double.isFinite(x)) {
                nonFinite++;
                continue;
            }
            int c = (int) ((i / inner) % channels);
            sum[c] += x;
            sumSquares[c] += x * x;
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        latents += s[0];
    }

    /** The summary: overall and per-channel mean and std (population), range, and non-finite count. */
    public Summary summary() {
        long perChannel = latents * (Arrays.stream(latentShape).reduce(1, (a, b) -> a * b) / channels);
        double[] mean = new double[channels];
        double[] std = new double[channels];
        double total = 0;
        double totalSquares = 0;
        for (int c = 0; c < channels; c++) {
            mean[c] = sum[c] / perChannel;
            std[c] = Math.sqrt(Math.max(0, sumSquares[c] / perChannel - mean[c] * mean[c]));
            total += sum[c];
            totalSquares += sumSquares[c];
        }
        long n = perChannel * channels;
        double m = total / n;
        return new Summary(latentShape.clone(), latents, m, Math.sqrt(Math.max(0, totalSquares / n - m * m)), min, max, mean, std, nonFinite);
    }

    /**
     * @param count images seen
     * @param channelMean per-channel mean
     * @param channelStd per-channel standard deviation (population)
     * @param nonFinite NaN or infinite values seen (left out of every other number)
     */
    public record Summary(long[] latentShape, long count, double mean, double std, double min, double max, double[] channelMean,
            double[] channelStd, long nonFinite) {

        /** Writes the fields into {@code o}: {@code shape, count, mean, std, min, max, non_finite, channel_mean, channel_std}. */
        public ObjectNode toJson(ObjectNode o) {
            Arrays.stream(latentShape).forEach(o.putArray("shape")::add);
            o.put("count", count).put("mean", mean).put("std", std).put("min", min).put("max", max).put("non_finite", nonFinite);
            Arrays.stream(channelMean).forEach(o.putArray("channel_mean")::add);
            Arrays.stream(channelStd).forEach(o.putArray("channel_std")::add);
            return o;
        }

        /** Reads what {@link #toJson} wrote; {@code source} names the file in errors. */
        public static Summary fromJson(JsonNode o, String source) {
            for (String key : new String[] {"shape", "count", "mean", "std", "channel_mean", "channel_std"}) {
                if (o.path(key).isMissingNode()) {
                    throw new IllegalArgumentException(source + ": latent statistics need '" + key + "'");
                }
            }
            long[] shape = new long[o.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = o.get("shape").get(i).asLong();
            }
            double[] channelMean = doubles(o.get("channel_mean"));
            double[] channelStd = doubles(o.get("channel_std"));
            if (channelMean.length != channelStd.length || channelMean.length == 0) {
                throw new IllegalArgumentException(source + ": 'channel_mean' and 'channel_std' must be non-empty and of equal length");
            }
            return new Summary(shape, o.get("count").asLong(), o.get("mean").asDouble(), o.get("std").asDouble(),
                    o.path("min").asDouble(Double.NaN), o.path("max").asDouble(Double.NaN), channelMean, channelStd,
                    o.path("non_finite").asLong(0));
        }

        private static double[] doubles(JsonNode a) {
            double[] out = new double[a.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = a.get(i).asDouble();
            }
            return out;
        }
    }
}
