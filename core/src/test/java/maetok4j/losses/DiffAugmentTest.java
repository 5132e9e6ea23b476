package maetok4j.losses;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Each augmentation against values worked out by hand, the policy grammar, gradients and seeding. */
class DiffAugmentTest {

    static {
        Engines.configure();
    }

    private static void close(float[] actual, float... expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("element " + i).isCloseTo(expected[i], within(1e-6f));
        }
    }

    @Test
    void colorOpsByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            // brightness: + (r − 0.5) per image
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 1, 1, 2));
            close(DiffAugment.brightness(x, new float[] {0.25f, 0.75f}).toFloatArray(), 0.75f, 1.75f, 3.25f, 4.25f);
            // saturation: channels (1, 3) and (3, 5) at two pixels, channel means 2 and 4, factor 2·0.75
            NDArray s = m.create(new float[] {1, 3, 3, 5}, new Shape(1, 2, 1, 2));
            close(DiffAugment.saturation(s, new float[] {0.75f}).toFloatArray(), 0.5f, 2.5f, 3.5f, 5.5f);
            // contrast: image mean 3, factor 0.25 + 0.5
            NDArray c = m.create(new float[] {1, 2, 3, 6}, new Shape(1, 1, 2, 2));
            close(DiffAugment.contrast(c, new float[] {0.25f}).toFloatArray(), 1.5f, 2.25f, 3f, 5.25f);
        }
    }

    @Test
    void translationByHandAndAsTheReferenceGathers() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(1f, 19f).reshape(2, 1, 3, 3);
            // image 0 moves up one row; image 1 moves down one row and left two columns
            close(DiffAugment.translation(x, new int[] {1, -1}, new int[] {0, 2}).toFloatArray(),
                    4, 5, 6, 7, 8, 9, 0, 0, 0,
                    0, 0, 0, 12, 0, 0, 15, 0, 0);
            // random shifts, including beyond the image, against the reference's clamped gather from a 1-pixel zero border
            SplittableRandom rng = new SplittableRandom(3);
            int b = 4;
            int h = 5;
            int w = 6;
            float[] values = new float[b * 2 * h * w];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) rng.nextDouble(-1, 1);
            }
            int[] dx = {2, -7, 0, -1};
            int[] dy = {-3, 1, 9, 0};
            float[] y = DiffAugment.translation(m.create(values, new Shape(b, 2, h, w)), dx, dy).toFloatArray();
            for (int n = 0; n < b; n++) {
                for (int c = 0; c < 2; c++) {
                    for (int i = 0; i < h; i++) {
                        for (int j = 0; j < w; j++) {
                            int gx = Math.min(Math.max(i + dx[n] + 1, 0), h + 1);
                            int gy = Math.min(Math.max(j + dy[n] + 1, 0), w + 1);
                            boolean inside = gx >= 1 && gx <= h && gy >= 1 && gy <= w;
                            float expected = inside ? values[((n * 2 + c) * h + gx - 1) * w + gy - 1] : 0f;
                            assertThat(y[((n * 2 + c) * h + i) * w + j]).isEqualTo(expected);
                        }
                    }
                }
            }
        }
    }

    @Test
    void cutoutByHandAndAsTheReferenceMasks() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ones = m.ones(new Shape(2, 1, 4, 4));
            // 2×2 holes: image 0 centred at (0, 2) → rows [-1, 1) ∩ image, cols [1, 3); image 1 at (3, 4) → rows 2..3, col 3
            close(DiffAugment.cutout(ones, 2, 2, new int[] {0, 3}, new int[] {2, 4}).toFloatArray(),
                    1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0);
            assertThat(DiffAugment.cutoutSize(256, 0.2)).isEqualTo(51);
            assertThat(DiffAugment.cutoutSize(5, 0.5)).isEqualTo(3); // int(2.5 + 0.5)
            // odd and even hole sizes at every offset the reference can draw, against its clamped index grid
            for (int size : new int[] {1, 2, 3}) {
                int h = 5;
                for (int o = 0; o < h + 1 - size % 2; o++) {
                    float[] y = DiffAugment.cutout(m.ones(new Shape(1, 1, h, 1)), size, 1, new int[] {o}, new int[] {0}).toFloatArray();
                    float[] expected = {1, 1, 1, 1, 1};
                    for (int k = 0; k < size; k++) {
                        expected[Math.min(Math.max(k + o - size / 2, 0), h - 1)] = 0;
                    }
                    assertThat(y).as("size %d offset %d", size, o).containsExactly(expected);
                }
            }
        }
    }

    @Test
    void policiesParseAndRejectUnknownOps() {
        DiffAugment a = DiffAugment.parse(DiffAugment.DEFAULT_POLICY, 0.5);
        assertThat(a.ops()).containsExactly(new DiffAugment.Color(), new DiffAugment.Translation(0.125), new DiffAugment.Cutout(0.2));
        assertThat(DiffAugment.parse("cutout_0.5", 1).ops()).containsExactly(new DiffAugment.Cutout(0.5));
        assertThat(DiffAugment.parse("", 1).ops()).isEmpty();
        assertThatThrownBy(() -> DiffAugment.parse("color,blur", 0.5))
                .hasMessage("unknown augmentation op 'blur' in policy 'color,blur' (known: color, translation, cutout_<ratio>)");
        assertThatThrownBy(() -> DiffAugment.parse("color, translation", 0.5)).hasMessageContaining("unknown augmentation op ' translation'");
        assertThatThrownBy(() -> DiffAugment.parse("cutout_big", 0.5)).hasMessageContaining("cutout ratio must be a number in (0, 1]");
        assertThatThrownBy(() -> DiffAugment.parse("cutout_1.5", 0.5)).hasMessageContaining("cutout ratio");
        assertThatThrownBy(() -> DiffAugment.parse("color,", 0.5)).hasMessageContaining("unknown augmentation op ''");
        assertThatThrownBy(() -> DiffAugment.parse("color", 1.5)).hasMessageContaining("probability must be in [0, 1]");
    }

    /** apply() draws, per group, one gate for the batch and then that group's per-image values, in the reference's order. */
    @Test
    void applyDrawsAsTheReferenceAndIsSeeded() {
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom data = new SplittableRandom(5);
            float[] v = new float[3 * 3 * 10 * 10];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) data.nextDouble(-1, 1);
            }
            NDArray x = m.create(v, new Shape(3, 3, 10, 10));
            DiffAugment aug = DiffAugment.parse("color,translation,cutout_0.3", 0.5);
            for (long seed = 0; seed < 8; seed++) {
                NDArray y = aug.apply(x, new SplittableRandom(seed));
                // replay the same draws by hand
                SplittableRandom r = new SplittableRandom(seed);
                NDArray e = x;
                if (r.nextDouble() <= 0.5) {
                    e = DiffAugment.brightness(e, floats(r, 3));
                    e = DiffAugment.saturation(e, floats(r, 3));
                    e = DiffAugment.contrast(e, floats(r, 3));
                }
                if (r.nextDouble() <= 0.5) {
                    int[] dx = {r.nextInt(-1, 2), r.nextInt(-1, 2), r.nextInt(-1, 2)}; // int(10·0.125 + 0.5) = 1
                    int[] dy = {r.nextInt(-1, 2), r.nextInt(-1, 2), r.nextInt(-1, 2)};
                    e = DiffAugment.translation(e, dx, dy);
                }
                if (r.nextDouble() <= 0.5) {
                    int[] ox = {r.nextInt(0, 10), r.nextInt(0, 10), r.nextInt(0, 10)}; // int(10·0.3 + 0.5) = 3, odd: offsets 0..9
                    int[] oy = {r.nextInt(0, 10), r.nextInt(0, 10), r.nextInt(0, 10)};
                    e = DiffAugment.cutout(e, 3, 3, ox, oy);
                }
                assertThat(y.toFloatArray()).as("seed " + seed).containsExactly(e.toFloatArray());
                assertThat(aug.apply(x, new SplittableRandom(seed)).toFloatArray()).containsExactly(y.toFloatArray());
            }
            DiffAugment always = DiffAugment.parse("color,translation,cutout_0.3", 1);
            assertThat(always.apply(x, new SplittableRandom(1)).toFloatArray()).isNotEqualTo(always.apply(x, new SplittableRandom(2)).toFloatArray());
        }
    }

    private static float[] floats(SplittableRandom r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = r.nextFloat();
        }
        return f;
    }

    /** prob gates each op group for the whole batch at once: a colour change hits every image or none. */
    @Test
    void probabilityGatesWholeBatches() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(0f, 4 * 3 * 4 * 4f).div(100f).reshape(4, 3, 4, 4);
            DiffAugment color = DiffAugment.parse("color", 0.5);
            SplittableRandom rng = new SplittableRandom(9);
            int applied = 0;
            for (int i = 0; i < 200; i++) {
                NDArray y = color.apply(x, rng);
                int changed = 0;
                for (int b = 0; b < 4; b++) {
                    if (y.get(b).sub(x.get(b)).abs().max().getFloat() > 0) {
                        changed++;
                    }
                }
                assertThat(changed).isIn(0, 4);
                applied += changed / 4;
            }
            assertThat(applied).isBetween(70, 130);
            assertThat(DiffAugment.parse(DiffAugment.DEFAULT_POLICY, 0).apply(x, rng).toFloatArray()).containsExactly(x.toFloatArray());
        }
    }

    @Test
    void gradientsReachTheInput() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(0f, 2 * 3 * 8 * 8f).div(384f).reshape(2, 3, 8, 8);
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(DiffAugment.translation(x, new int[] {1, 0}, new int[] {0, -2}).sum());
            }
            // each kept pixel contributes once: image 0 loses its first row, image 1 its last two columns
            float[] g = x.getGradient().toFloatArray();
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < 8; i++) {
                    for (int j = 0; j < 8; j++) {
                        assertThat(g[(c * 8 + i) * 8 + j]).isEqualTo(i == 0 ? 0f : 1f);
                        assertThat(g[((3 + c) * 8 + i) * 8 + j]).isEqualTo(j >= 6 ? 0f : 1f);
                    }
                }
            }
            NDArray z = m.arange(0f, 2 * 3 * 8 * 8f).div(384f).reshape(2, 3, 8, 8);
            z.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(DiffAugment.parse("color,translation,cutout_0.5", 1).apply(z, new SplittableRandom(4)).square().sum());
            }
            NDArray gz = z.getGradient();
            assertThat(gz.isInfinite().any().getBoolean() || gz.isNaN().any().getBoolean()).isFalse();
            assertThat(gz.abs().sum().getFloat()).isGreaterThan(0f);
        }
    }
}
