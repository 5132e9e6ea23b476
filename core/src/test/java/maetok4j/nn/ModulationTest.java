package maetok4j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** SiLU, the activation of SiT's conditioning path, must differentiate exactly even when a collection runs before backward. */
class ModulationTest {

    static {
        Engines.configure();
    }

    @Test
    void siluHasTheExactGradientAfterACollectionBetweenForwardAndBackward() throws InterruptedException {
        double s = 1 / (1 + Math.exp(-1.5));
        float expected = (float) (s * (1 + 1.5 * (1 - s))); // d/dx x·σ(x) at 1.5
        for (int i = 0; i < 5; i++) {
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray x = m.full(new Shape(1000), 1.5f);
                x.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = Modulation.silu(x);
                    assertThat(y.getFloat(0)).isCloseTo((float) (1.5 * s), within(1e-6f));
                    System.gc();
                    Thread.sleep(20);
                    List<ByteBuffer> churn = new ArrayList<>(); // reuse freed memory with other values
                    for (int k = 0; k < 2000; k++) {
                        churn.add(ByteBuffer.allocateDirect(4).putFloat(0, 1e30f));
                    }
                    gc.backward(y.sum());
                    assertThat(churn).hasSize(2000);
                }
                assertThat(x.getGradient().toFloatArray()).as("attempt %d", i).containsOnly(expected);
            }
        }
    }
}
