package maetok4j.losses;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Differentiable augmentation of discriminator inputs (Zhao et al. 2020, the reference's
 * {@code utils/diff_aug.py}) for [B, C, H, W] images. A policy is a comma-separated list of op groups:
 * {@code color} (brightness, saturation, contrast in turn), {@code translation} (up to 1/8 of each side,
 * zero fill) and {@code cutout_<ratio>} (a zeroed square of that fraction of each side). Each group is
 * applied with probability {@code prob} — one draw per group for the whole batch, as the reference does —
 * and its parameters are drawn per image. All ops are built from differentiable tensor operations, so
 * gradients reach the input; every random value comes from the given generator.
 */
public final class DiffAugment {

    /** An op group of a policy. */
    public sealed interface Op permits Color, Translation, Cutout {}

    public record Color() implements Op {}

    public record Translation(double ratio) implements Op {}

    public record Cutout(double ratio) implements Op {}

    /** The reference's weak policy for discriminator inputs. */
    public static final String DEFAULT_POLICY = "color,translation,cutout_0.2";
    /** The reference's translation range: 1/8 of each side. */
    public static final double TRANSLATION_RATIO = 0.125;

    private final List<Op> ops;
    private final double prob;

    private DiffAugment(List<Op> ops, double prob) {
        this.ops = List.copyOf(ops);
        this.prob = prob;
    }

    /**
     * Parses a policy such as {@code color,translation,cutout_0.2}; the empty policy augments nothing.
     *
     * @param prob probability that each op group is applied (the reference uses 0.5, and 1.0 for the
     *     consistency term's strong augmentation)
     */
    public static DiffAugment parse(String policy, double prob) {
        if (!(prob >= 0 && prob <= 1)) {
            throw new IllegalArgumentException("augmentation probability must be in [0, 1], got " + prob);
        }
        List<Op> ops = new ArrayList<>();
        if (!policy.isEmpty()) {
            for (String name : policy.split(",", -1)) {
                ops.add(op(name, policy));
            }
        }
        return new DiffAugment(ops, prob);
    }

    private static Op op(String name, String policy) {
        if (name.equals("color")) {
            return new Color();
        }
        if (name.equals("translation")) {
            return new Translation(TRANSLATION_RATIO);
        }
        if (name.startsWith("cutout_")) {
            String r = name.substring("cutout_".length());
            double ratio;
            try {
                ratio = Double.parseDouble(r);
            } catch (NumberFormatException e) {
                ratio = Double.NaN;
            }
            if (!(ratio > 0 && ratio <= 1) || !r.matches("[0-9.]+")) {
                throw new IllegalArgumentException("augmentation op '" + name + "' in policy '" + policy
                        + "': the cutout ratio must be a number in (0, 1], as in cutout_0.2");
            }
            return new Cutout(ratio);
        }
        throw new IllegalArgumentException("unknown augmentation op '" + name + "' in policy '" + policy
                + "' (known: color, translation, cutout_<ratio>)");
    }

    public List<Op> ops() {
        return ops;
    }

    public double prob() {
        return prob;
    }

    /** Augments images [B, C, H, W]; the result is in the input's manager and differentiable with respect to it. */
    public NDArray apply(NDArray x, RandomGenerator rng) {
        Shape s = x.getShape();
        if (s.dimension() != 4) {
            throw new IllegalArgumentException("DiffAugment expects [B, C, H, W], got " + s);
        }
        int b = Math.toIntExact(s.get(0));
        int h = Math.toIntExact(s.get(2));
        int w = Math.toIntExact(s.get(3));
        for (Op op : ops) {
            if (rng.nextDouble() > prob) { // the reference's `torch.rand(1) > prob: continue`
                continue;
            }
            if (op instanceof Color) {
                x = brightness(x, uniform(rng, b));
                x = saturation(x, uniform(rng, b));
                x = contrast(x, uniform(rng, b));
            } else if (op instanceof Translation t) {
                int sx = (int) (h * t.ratio() + 0.5);
                int sy = (int) (w * t.ratio() + 0.5);
                int[] dx = new int[b];
                int[] dy = new int[b];
                for (int i = 0; i < b; i++) {
                    dx[i] = rng.nextInt(-sx, sx + 1);
                }
                for (int i = 0; i < b; i++) {
                    dy[i] = rng.nextInt(-sy, sy + 1);
                }
                x = translation(x, dx, dy);
            } else if (op instanceof Cutout c) {
                int ch = cutoutSize(h, c.ratio());
                int cw = cutoutSize(w, c.ratio());
                int[] ox = new int[b];
                int[] oy = new int[b];
                for (int i = 0; i < b; i++) {
                    ox[i] = rng.nextInt(0, h + 1 - ch % 2);
                }
                for (int i = 0; i < b; i++) {
                    oy[i] = rng.nextInt(0, w + 1 - cw % 2);
                }
                x = cutout(x, ch, cw, ox, oy);
            }
        }
        return x;
    }

    private static float[] uniform(RandomGenerator rng, int n) {
        float[] r = new float[n];
        for (int i = 0; i < n; i++) {
            r[i] = rng.nextFloat();
        }
        return r;
    }

    static int cutoutSize(int side, double ratio) {
        return (int) (side * ratio + 0.5);
    }

    /** A per-image factor as [B, 1, 1, 1] in the input's manager. */
    private static NDArray perImage(NDArray x, float[] values) {
        return OwnedArrays.of(x.getManager(), values, new Shape(values.length, 1, 1, 1));
    }

    private static float[] map(float[] r, float scale, float offset) {
        float[] out = new float[r.length];
        for (int i = 0; i < r.length; i++) {
            out[i] = r[i] * scale + offset;
        }
        return out;
    }

    /** x + (r − 0.5), r ∈ [0, 1) per image. */
    static NDArray brightness(NDArray x, float[] r) {
        try (NDArray add = perImage(x, map(r, 1f, -0.5f))) {
            return x.add(add);
        }
    }

    /** (x − mean_c x)·2r + mean_c x, the mean over channels per pixel. */
    static NDArray saturation(NDArray x, float[] r) {
        NDArray mean = x.mean(new int[] {1}, true);
        try (NDArray f = perImage(x, map(r, 2f, 0f))) {
            return x.sub(mean).mul(f).add(mean);
        }
    }

    /** (x − mean x)·(r + 0.5) + mean x, the mean over each whole image. */
    static NDArray contrast(NDArray x, float[] r) {
        Shape s = x.getShape();
        NDArray mean = x.reshape(s.get(0), -1).mean(new int[] {1}, true).reshape(s.get(0), 1, 1, 1); // [B, 1, 1, 1]
        try (NDArray f = perImage(x, map(r, 1f, 0.5f))) {
            return x.sub(mean).mul(f).add(mean);
        }
    }

    /**
     * out[b, :, i, j] = x[b, :, i + dx[b], j + dy[b]] where that lies inside the image, else 0 (dx along
     * H, dy along W). The reference gathers from a 1-pixel zero border with clamped indices, which is the
     * same thing for any shift.
     */
    static NDArray translation(NDArray x, int[] dx, int[] dy) {
        Shape s = x.getShape();
        long h = s.get(2);
        long w = s.get(3);
        int px = 0;
        int py = 0;
        for (int i = 0; i < dx.length; i++) {
            px = Math.max(px, Math.abs(dx[i]));
            py = Math.max(py, Math.abs(dy[i]));
        }
        px = (int) Math.min(px, h);
        py = (int) Math.min(py, w);
        NDArray padded = pad(x, px, py); // [B, C, H + 2px, W + 2py]
        NDList rows = new NDList();
        for (int b = 0; b < dx.length; b++) {
            long top = px + clamp(dx[b], h);
            long left = py + clamp(dy[b], w);
            rows.add(padded.get(b + ":" + (b + 1) + ", :, " + top + ":" + (top + h) + ", " + left + ":" + (left + w)));
        }
        return NDArrays.concat(rows, 0);
    }

    private static long clamp(long shift, long side) {
        return Math.max(-side, Math.min(side, shift));
    }

    /** Zero border of px rows above and below, py columns left and right. */
    private static NDArray pad(NDArray x, int px, int py) {
        if (px == 0 && py == 0) {
            return x;
        }
        Shape s = x.getShape();
        NDManager m = x.getManager();
        NDArray out = x;
        if (py > 0) {
            try (NDArray z = m.zeros(new Shape(s.get(0), s.get(1), s.get(2), py))) {
                out = NDArrays.concat(new NDList(z, out, z), 3);
            }
        }
        if (px > 0) {
            try (NDArray z = m.zeros(new Shape(s.get(0), s.get(1), px, s.get(3) + 2L * py))) {
                out = NDArrays.concat(new NDList(z, out, z), 2);
            }
        }
        return out;
    }

    /**
     * Zeroes, in image b, rows [ox[b] − ch/2, ox[b] − ch/2 + ch) × columns [oy[b] − cw/2, oy[b] − cw/2 + cw),
     * clipped to the image (the reference clamps the indices, which zeroes the same pixels).
     */
    static NDArray cutout(NDArray x, int ch, int cw, int[] ox, int[] oy) {
        Shape s = x.getShape();
        int b = Math.toIntExact(s.get(0));
        int h = Math.toIntExact(s.get(2));
        int w = Math.toIntExact(s.get(3));
        float[] rowIn = new float[b * h];
        float[] colIn = new float[b * w];
        for (int i = 0; i < b; i++) {
            mark(rowIn, i * h, h, ox[i] - ch / 2, ch);
            mark(colIn, i * w, w, oy[i] - cw / 2, cw);
        }
        NDManager m = x.getManager();
        try (NDArray r = OwnedArrays.of(m, rowIn, new Shape(b, 1, h, 1)); NDArray c = OwnedArrays.of(m, colIn, new Shape(b, 1, 1, w));
                NDArray hole = r.mul(c); NDArray keep = hole.neg().add(1f)) { // [B, 1, H, W]
            return x.mul(keep);
        }
    }

    private static void mark(float[] flags, int offset, int side, int start, int length) {
        for (int k = Math.max(0, start); k < Math.min(side, start + length); k++) {
            flags[offset + k] = 1f;
        }
    }
}
