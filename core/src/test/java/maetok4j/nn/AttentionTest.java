package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static maetok4j.TestFiles.relativeError;
import static org.assertj.core.api.Assertions.assertThat;

/** The qk-norm option of {@link Attention}; its numerics against the reference are in SiTTest's fixtures. */
class AttentionTest {

    static {
        Engines.configure();
    }

    @Test
    void qkNormAddsTwoAffineNormsBetweenQkvAndProj() {
        assertThat(new Attention(8, 2).stateDict().keySet()).containsExactly("qkv.weight", "qkv.bias", "proj.weight", "proj.bias");
        Attention a = new Attention(8, 2, true);
        assertThat(a.stateDict().keySet()).containsExactly("qkv.weight", "qkv.bias", "q_norm.weight", "q_norm.bias",
                "k_norm.weight", "k_norm.bias", "proj.weight", "proj.bias");
        assertThat(a.stateDict().get("q_norm.weight").shape()).as("one norm per head dimension, shared by the heads").isEqualTo(new Shape(4));
    }

    /** Normalised per head, q and k lose their scale: growing their projections tenfold changes nothing, unlike without the norms. */
    @Test
    void qkNormMakesAttentionBlindToTheScaleOfQAndK() {
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(1);
            float[] values = new float[2 * 5 * 8];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) rng.nextGaussian();
            }
            NDArray x = OwnedArrays.of(m, values, new Shape(2, 5, 8)); // [B, T, D]
            for (boolean qkNorm : new boolean[] {true, false}) {
                Attention a = new Attention(8, 2, qkNorm);
                a.initialize(m, 4);
                // q and k of order one: the default init (std 0.02) makes them so small that the norms' eps would count
                scaleQueriesAndKeys(a, m, 50);
                NDArray before = a.forward(x, null, 0);
                scaleQueriesAndKeys(a, m, 10);
                double change = relativeError(a.forward(x, null, 0), before);
                if (qkNorm) {
                    assertThat(change).isLessThan(1e-4);
                } else {
                    assertThat(change).isGreaterThan(1e-2);
                }
            }
        }
    }

    /** Multiplies the q and k rows of {@code qkv} [3·D, D] (weight and bias) by {@code factor}. */
    private static void scaleQueriesAndKeys(Attention a, NDManager m, float factor) {
        for (String key : new String[] {"qkv.weight", "qkv.bias"}) {
            Parameter p = a.stateDict().get(key);
            float[] v = p.array().toFloatArray();
            int perRow = v.length / (3 * a.dim);
            for (int i = 0; i < 2 * a.dim * perRow; i++) {
                v[i] *= factor;
            }
            p.set(OwnedArrays.of(m, v, p.shape()));
        }
    }
}
