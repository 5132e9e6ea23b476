package maetok4j.metrics;

import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import maetok4j.tensor.TensorFileException;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fréchet-distance statistics in the {@code .npz} layout of pytorch-fid ({@code --save-stats}) and of the ADM
 * evaluator's reference batches: {@code mu} [D] and {@code sigma} [D, D], float64. ADM reference batches
 * also hold {@code mu_s}, {@code sigma_s} (spatial features, for sFID) and {@code arr_0} (the images, up to
 * 10 GB); only {@code mu} and {@code sigma} are read, so those cost nothing. Files written here add
 * {@code count} (int64, 0-d), the number of feature rows, and {@code network} (the UTF-8 bytes of the feature
 * network's name, uint8 [n]), which the others ignore; an FD between statistics of different networks means
 * nothing, so the name travels with the numbers.
 */
public final class ReferenceStatistics {

    static final String MU = "mu";
    static final String SIGMA = "sigma";
    static final String COUNT = "count";
    static final String NETWORK = "network";

    /** Statistics and the name of the network they were computed with (null when the file does not say). */
    public record Stored(FeatureStatistics statistics, String network) {}

    private ReferenceStatistics() {}

    /**
     * The statistics in {@code file}; the count is {@link FeatureStatistics#UNKNOWN_COUNT} when the file does
     * not record it.
     *
     * @throws TensorFileException naming the file for missing or malformed {@code mu}/{@code sigma}
     */
    public static FeatureStatistics read(Path file) {
        boolean counted = Npz.keys(file).contains(COUNT);
        Map<String, NpyArray> a = Npz.read(file, counted ? List.of(MU, SIGMA, COUNT) : List.of(MU, SIGMA));
        NpyArray mu = a.get(MU);
        NpyArray sigma = a.get(SIGMA);
        long[] ms = mu.shape();
        if (ms.length != 1 || ms[0] < 1) {
            throw new TensorFileException(file + ": 'mu' must be [D], got " + Arrays.toString(ms));
        }
        if (!Arrays.equals(sigma.shape(), new long[] {ms[0], ms[0]})) {
            throw new TensorFileException(file + ": 'sigma' must be [" + ms[0] + ", " + ms[0] + "] for 'mu' ["
                    + ms[0] + "], got " + Arrays.toString(sigma.shape()));
        }
        long count = FeatureStatistics.UNKNOWN_COUNT;
        if (counted) {
            NpyArray c = a.get(COUNT);
            double v = c.size() == 1 ? c.toDoubleArray()[0] : -1;
            if (!(v == FeatureStatistics.UNKNOWN_COUNT || v >= 2) || v != Math.rint(v)) {
                throw new TensorFileException(file + ": 'count' must be one integer, 0 or at least 2, got "
                        + Arrays.toString(c.toDoubleArray()));
            }
            count = (long) v;
        }
        return FeatureStatistics.of(mu.toDoubleArray(), sigma.toDoubleArray(), count);
    }

    /** {@link #read} and the {@code network} entry, when there is one. */
    public static Stored readWithNetwork(Path file) {
        FeatureStatistics stats = read(file);
        if (!Npz.keys(file).contains(NETWORK)) {
            return new Stored(stats, null);
        }
        NpyArray n = Npz.read(file, List.of(NETWORK)).get(NETWORK);
        if (!n.dtype().equals("|u1") || n.shape().length != 1) {
            throw new TensorFileException(file + ": 'network' must be uint8 [n] (a UTF-8 name), got " + n);
        }
        return new Stored(stats, new String(n.data(), java.nio.charset.StandardCharsets.UTF_8));
    }

    /** {@link #write(Path, FeatureStatistics)} plus the name of the network the statistics come from. */
    public static void write(Path file, FeatureStatistics stats, String network) {
        write(file, stats, network.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Writes {@code mu}, {@code sigma} (float64) and {@code count} of {@code stats} to {@code file}, atomically. */
    public static void write(Path file, FeatureStatistics stats) {
        write(file, stats, (byte[]) null);
    }

    private static void write(Path file, FeatureStatistics stats, byte[] network) {
        int d = stats.dimension();
        Map<String, NpyArray> out = new LinkedHashMap<>();
        out.put(MU, NpyArray.of(stats.mean(), d));
        out.put(SIGMA, NpyArray.of(stats.covariance(), d, d));
        out.put(COUNT, NpyArray.of(new long[] {stats.count()}));
        if (network != null) {
            out.put(NETWORK, NpyArray.ofUnsignedBytes(network, network.length));
        }
        Npz.write(file, out);
    }
}
