package maetok4j.tokenizer;

/**
 * The fixed 2D position tables of MAE's {@code util/pos_embed.py}, used by the VMAE and by SiT's 2D mode, and the
 * bilinear resizing the VMAE reference applies to them between training stages ({@code util/misc.py resize_pos_embed}).
 * Tables are row-major {@code [grid*grid, dim]} float arrays; token n sits at row {@code n / grid}, column
 * {@code n % grid}.
 */
public final class SinCosPosEmbed {

    private SinCosPosEmbed() {}

    /**
     * The arithmetic of the reference's numpy code: the VMAE's copy ({@code VMAE/util/pos_embed.py}) makes ω in
     * float32, so the angles are float32 products; MAE's original, copied by SiT ({@code modelling/sit.py}), makes
     * ω in float64 and casts only the finished table. Same layout; the values differ by up to a few 1e-7 per unit
     * of position.
     */
    public enum Precision { FLOAT32, FLOAT64 }

    /** {@link #table(int, int, Precision)} in the VMAE's float32 arithmetic. */
    public static float[] table(int dim, int grid) {
        return table(dim, grid, Precision.FLOAT32);
    }

    /**
     * MAE's {@code get_2d_sincos_pos_embed(dim, grid)}: the first half of the channels encodes the token's
     * column, the second half its row (the reference's meshgrid puts w first); within each half,
     * {@code [sin(pos·ω_k) | cos(pos·ω_k)]} with {@code ω_k = 1 / 10000^(k / (dim/4))}, k = 0 … dim/4 − 1.
     * Computed step by step as numpy does in the given precision, so values match the reference's to the last bit
     * or two.
     *
     * @return {@code [grid*grid, dim]}, row-major
     */
    public static float[] table(int dim, int grid, Precision precision) {
        if (dim <= 0 || dim % 4 != 0 || grid <= 0) {
            throw new IllegalArgumentException("a 2D sin-cos table needs a width divisible by 4 and a positive grid, got "
                    + dim + " and " + grid);
        }
        int half = dim / 2;
        int quarter = dim / 4;
        double[] omega = new double[quarter];
        for (int k = 0; k < quarter; k++) {
            omega[k] = precision == Precision.FLOAT32
                    ? 1f / (float) Math.pow(10000, (float) k / quarter)
                    : 1.0 / Math.pow(10000, (double) k / quarter);
        }
        float[] out = new float[grid * grid * dim];
        for (int row = 0; row < grid; row++) {
            for (int col = 0; col < grid; col++) {
                int base = (row * grid + col) * dim;
                for (int k = 0; k < quarter; k++) {
                    double c = angle(col, omega[k], precision);
                    double r = angle(row, omega[k], precision);
                    out[base + k] = (float) Math.sin(c);
                    out[base + quarter + k] = (float) Math.cos(c);
                    out[base + half + k] = (float) Math.sin(r);
                    out[base + half + quarter + k] = (float) Math.cos(r);
                }
            }
        }
        return out;
    }

    private static double angle(int position, double omega, Precision precision) {
        return precision == Precision.FLOAT32 ? (float) (position * (float) omega) : position * omega;
    }

    /**
     * The reference's {@code resize_pos_embed}: the table seen as a {@code dim}-channel image of
     * {@code from × from} pixels, resized to {@code to × to} by {@code F.interpolate(mode='bilinear',
     * align_corners=False)}. That is how a 128-px checkpoint's 16×16 tables become the 256-px model's 32×32
     * tables (resized, not recomputed: the two differ).
     *
     * @param table {@code [from*from, dim]}, row-major
     * @return {@code [to*to, dim]}, row-major
     */
    public static float[] resize(float[] table, int dim, int from, int to) {
        if (dim <= 0 || from <= 0 || to <= 0 || table.length != from * from * dim) {
            throw new IllegalArgumentException("cannot resize a table of " + table.length + " values as " + from + "x" + from
                    + " tokens of width " + dim + " to " + to + "x" + to);
        }
        Taps taps = Taps.of(from, to);
        float[] out = new float[to * to * dim];
        for (int row = 0; row < to; row++) {
            for (int col = 0; col < to; col++) {
                int o = (row * to + col) * dim;
                int a = (taps.lo[row] * from + taps.lo[col]) * dim; // top left
                int b = (taps.lo[row] * from + taps.hi[col]) * dim; // top right
                int c = (taps.hi[row] * from + taps.lo[col]) * dim; // bottom left
                int d = (taps.hi[row] * from + taps.hi[col]) * dim; // bottom right
                double wr = taps.weight[row];
                double wc = taps.weight[col];
                for (int ch = 0; ch < dim; ch++) {
                    double top = (1 - wc) * table[a + ch] + wc * table[b + ch];
                    double bottom = (1 - wc) * table[c + ch] + wc * table[d + ch];
                    out[o + ch] = (float) ((1 - wr) * top + wr * bottom);
                }
            }
        }
        return out;
    }

    /**
     * PyTorch's 1-D bilinear taps for {@code align_corners=False}: output pixel i samples the input at
     * {@code (i + 0.5)·from/to − 0.5}, clamped at 0, between pixels {@code lo} and {@code hi} with weight
     * {@code weight} on {@code hi}.
     */
    private record Taps(int[] lo, int[] hi, double[] weight) {

        static Taps of(int from, int to) {
            int[] lo = new int[to];
            int[] hi = new int[to];
            double[] weight = new double[to];
            double scale = (double) from / to;
            for (int i = 0; i < to; i++) {
                double src = Math.max(0, (i + 0.5) * scale - 0.5);
                lo[i] = (int) src;
                hi[i] = Math.min(lo[i] + 1, from - 1);
                weight[i] = src - lo[i];
            }
            return new Taps(lo, hi, weight);
        }
    }
}
