package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RopeTest {

    static {
        Engines.configure();
    }

    /** Axial RoPE: after rotation, q·k depends only on the 2D offset between the two tokens. */
    @Test
    void axialScoresDependOnlyOnRelativePosition() {
        int hd = 8;
        int grid = 4;
        try (NDManager m = NDManager.newBaseManager()) {
            Rope.Tables t = Rope.axial(m, hd, grid, grid, 10.0, 1, 2); // 1 prefix, 16 image, 2 latent tokens
            NDArray q = m.randomNormal(new Shape(1, 1, 1, hd)).broadcast(new Shape(1, 1, 19, hd));
            NDArray k = m.randomNormal(new Shape(1, 1, 1, hd)).broadcast(new Shape(1, 1, 19, hd));
            NDArray scores = t.apply(q, 0).matMul(t.apply(k, 0).transpose(0, 1, 3, 2)).get(0).get(0); // [19, 19]
            // token 1 + (y*4 + x): offsets (1,1) from (0,0)->(1,1) and from (2,1)->(3,2) must score alike
            float a = scores.getFloat(1 + 0, 1 + 5);
            float b = scores.getFloat(1 + 4 + 2, 1 + 8 + 3);
            assertThat(b).isCloseTo(a, within(1e-4f));
            // prefix and latent tokens are not rotated
            assertThat(t.apply(q, 0).get(new NDIndex("0, 0, 0")).toFloatArray()).containsExactly(q.get(new NDIndex("0, 0, 0")).toFloatArray());
            assertThat(t.apply(q, 0).get(new NDIndex("0, 0, 18")).toFloatArray()).containsExactly(q.get(new NDIndex("0, 0, 18")).toFloatArray());
        }
    }

    /** RoPE-Mixed rotates pair j of head h at token n by tx(n)·Fx[l, h*half+j] + ty(n)·Fy[l, h*half+j]. */
    @Test
    void mixedRotationMatchesTheClosedForm() {
        int depth = 2;
        int heads = 2;
        int hd = 8;
        int half = hd / 2;
        int grid = 3;
        try (NDManager m = NDManager.newBaseManager()) {
            float[] f = new float[2 * depth * heads * half];
            Rope.mixedInit(depth, heads, hd, 10.0).fill(f, null, new SplittableRandom(3));
            NDArray freqs = m.create(f, new Shape(2, depth, (long) heads * half));
            float[][] g = Rope.grid(grid, grid);
            Rope.Tables t = Rope.mixed(freqs, m.create(g[0]), m.create(g[1]), heads, 0, 1);
            float[] q = new float[hd];
            for (int i = 0; i < hd; i++) {
                q[i] = i + 1;
            }
            int layer = 1;
            int head = 1;
            int token = 7; // x = 1, y = 2
            NDArray x = m.zeros(new Shape(1, heads, grid * grid + 1, hd));
            x.set(new NDIndex("0, {}, {}", head, token), m.create(q));
            float[] out = t.apply(x, layer).get(new NDIndex("0, {}, {}", head, token)).toFloatArray();
            for (int j = 0; j < half; j++) {
                double theta = 1 * f[layer * heads * half + head * half + j]
                        + 2 * f[depth * heads * half + layer * heads * half + head * half + j];
                double re = q[2 * j] * Math.cos(theta) - q[2 * j + 1] * Math.sin(theta);
                double im = q[2 * j] * Math.sin(theta) + q[2 * j + 1] * Math.cos(theta);
                assertThat((double) out[2 * j]).isCloseTo(re, within(1e-5));
                assertThat((double) out[2 * j + 1]).isCloseTo(im, within(1e-5));
            }
        }
    }

    @Test
    void mixedInitHasTheReferenceMagnitudes() {
        float[] f = new float[2 * 1 * 1 * 8];
        Rope.mixedInit(1, 1, 16, 10.0).fill(f, null, new SplittableRandom(1));
        float[] mag = Rope.magnitudes(16, 10.0); // 10^(-4k/16), k < 4
        assertThat(mag).hasSize(4);
        assertThat((double) mag[1]).isCloseTo(Math.pow(10, -0.25), within(1e-7));
        for (int k = 0; k < 4; k++) {
            // |(Fx, Fy)| per frequency is the magnitude, for both the alpha and alpha+pi/2 halves
            assertThat(Math.hypot(f[k], f[8 + k])).isCloseTo(mag[k], within(1e-6));
            assertThat(Math.hypot(f[4 + k], f[8 + 4 + k])).isCloseTo(mag[k], within(1e-6));
        }
    }
}
