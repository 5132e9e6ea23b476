package maetok4j.tensor;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hazard {@link OwnedArrays} exists for: a garbage collection between forward and backward frees the memory
 * of a constant DJL made from Java data while autograd still holds it. With DJL's own {@code x.mul(3f)} this
 * procedure gives a wrong gradient every time on this engine; the owned versions must stay exact.
 */
class OwnedArraysTest {

    static {
        Engines.configure();
    }

    private static float gradientAfterCollection(Function<NDArray, NDArray> f) throws InterruptedException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(1000));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = f.apply(x);
                System.gc();
                Thread.sleep(20);
                List<ByteBuffer> churn = new ArrayList<>(); // reuse the freed memory with other values
                for (int i = 0; i < 2000; i++) {
                    churn.add(ByteBuffer.allocateDirect(4).putFloat(0, 1e30f));
                }
                gc.backward(y.sum());
                assertThat(churn).hasSize(2000);
            }
            return x.getGradient().getFloat(0);
        }
    }

    @Test
    void scalarsSurviveACollectionBetweenForwardAndBackward() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            assertThat(gradientAfterCollection(x -> OwnedArrays.mul(x, 3))).isEqualTo(3f);
            assertThat(gradientAfterCollection(x -> OwnedArrays.div(x, 4))).isEqualTo(0.25f);
            assertThat(gradientAfterCollection(x -> OwnedArrays.maximum(x, 0.5))).isEqualTo(1f);
        }
    }

    @Test
    void arraysMadeFromJavaDataSurviveACollection() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            float[] w = new float[1000];
            java.util.Arrays.fill(w, 2f);
            assertThat(gradientAfterCollection(x -> {
                try (NDArray c = OwnedArrays.of(x.getManager(), w, new Shape(1000))) { // closed before backward
                    return x.mul(c);
                }
            })).isEqualTo(2f);
        }
    }

    @Test
    void copiesHaveTheValuesShapesAndTypes() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(OwnedArrays.of(m, new float[] {1, 2, 3, 4}, new Shape(2, 2)).toFloatArray()).containsExactly(1, 2, 3, 4);
            assertThat(OwnedArrays.of(m, new long[] {5, 6}).toLongArray()).containsExactly(5, 6);
            assertThat(OwnedArrays.of(m, new double[] {0.5}).toDoubleArray()).containsExactly(0.5);
            assertThat(OwnedArrays.scalar(m.ones(new Shape(2)), 7).getShape()).isEqualTo(new Shape());
        }
    }
}
