package maetok4j.losses;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.OwnedArrays;
import maetok4j.nn.FrozenNetwork;
import maetok4j.tensor.Engines;
import maetok4j.training.AdamW;
import maetok4j.training.Gradients;
import maetok4j.training.TrainStep;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Discriminators in training: end-to-end gradients, the consistency term, and flat native memory over many steps. */
class DiscriminatorTrainingTest {

    static {
        Engines.configure();
    }

    /**
     * A stand-in for DINO: 8×8 patches of the [B, 3, 32, 32] input, each level a fixed random projection
     * of the patch vectors to C = 16 followed by tanh, giving 5 features [B, 16, 16].
     */
    static final class PatchProjection implements FrozenNetwork {

        static final int SIZE = 32;
        static final int PATCH = 8;
        static final int DIM = 16;
        private final NDManager manager;
        private final NDArray[] projections = new NDArray[5];
        final AtomicInteger calls = new AtomicInteger();
        boolean closed;

        PatchProjection(NDManager parent, long seed) {
            manager = parent.newSubManager();
            SplittableRandom rng = new SplittableRandom(seed);
            int in = 3 * PATCH * PATCH;
            for (int k = 0; k < 5; k++) {
                float[] w = new float[in * DIM];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) (rng.nextGaussian() / Math.sqrt(in));
                }
                projections[k] = OwnedArrays.of(manager, w, new Shape(in, DIM));
            }
        }

        @Override
        public NDList forward(NDArray x) {
            calls.incrementAndGet();
            long b = x.getShape().get(0);
            int g = SIZE / PATCH;
            NDArray tokens = x.reshape(b, 3, g, PATCH, g, PATCH).transpose(0, 2, 4, 1, 3, 5).reshape(b, g * g, -1); // [B, T, 3p²]
            NDList out = new NDList();
            for (NDArray p : projections) {
                out.add(tokens.matMul(p).tanh()); // [B, T, C]
            }
            return out;
        }

        @Override
        public void close() {
            closed = true;
            manager.close();
        }
    }

    static int arrays(NDManager... ms) {
        int n = 0;
        for (NDManager m : ms) {
            n += ((BaseNDManager) m).getManagedArrays().size();
        }
        return n;
    }

    static DinoDiscriminator.Config dinoConfig() {
        return new DinoDiscriminator.Config(PatchProjection.DIM, 5, 9, PatchProjection.SIZE, 1e-6, true);
    }

    @Test
    void dinoDiscriminatorForwardAndBackwardEndToEnd() {
        PatchProjection backbone;
        try (NDManager m = NDManager.newBaseManager()) {
            backbone = new PatchProjection(m, 1);
            try (DinoDiscriminator d = DinoDiscriminator.create(dinoConfig(), backbone, new SplittableRandom(2), m, 3)) {
                assertThat(d.kind()).isEqualTo("dino");
                assertThat(d.stateDict()).containsKeys("heads.4.2.weight_orig", "heads.0.1.fn.1.running_var")
                        .allSatisfy((k, p) -> assertThat(k).startsWith("heads."));
                d.train(true);
                TrainStep.enableGradients(d);
                SplittableRandom rng = new SplittableRandom(4);
                float[] v = new float[2 * 3 * 40 * 40];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) rng.nextDouble(-1, 1);
                }
                NDArray images = m.create(v, new Shape(2, 3, 40, 40)); // larger than the backbone: crop or area resize
                images.setRequiresGradient(true);
                float[] before = d.stateDict().get("heads.2.0.1.running_mean").array().toFloatArray();
                int rootBefore = arrays(m);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray logits = d.forward(images);
                    assertThat(arrays(m)).isEqualTo(rootBefore + 1); // only the logits stay
                    assertThat(logits.getShape()).isEqualTo(new Shape(2, 5 * 16));
                    assertThat(logits.getManager()).isSameAs(m);
                    gc.backward(Adversarial.HINGE.generator(logits));
                }
                assertThat(images.getGradient().abs().sum().getFloat()).isGreaterThan(0f);
                d.trainableParameters().forEach((k, p) -> assertThat(p.array().getGradient().abs().sum().getFloat())
                        .as(k).isGreaterThan(0f));
                assertThat(d.stateDict().get("heads.2.0.1.running_mean").array().toFloatArray()).isNotEqualTo(before);
                assertThat(backbone.calls.get()).isEqualTo(1);
            }
            assertThat(backbone.closed).as("the discriminator closes its backbone").isTrue();
        }
    }

    /** A discriminator that scores every image 0.5 whatever it shows, counting its calls. */
    static final class Constant extends Discriminator {
        int calls;

        @Override
        public NDArray forward(NDArray images) {
            calls++;
            return images.getManager().full(new Shape(images.getShape().get(0), 1), 0.5f);
        }

        @Override
        public String kind() {
            return "constant";
        }
    }

    @Test
    void consistencyRegularizationByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            // mse(cat[(1, 2), (3)], cat[(0, 2), (5)]) = (1 + 0 + 4) / 3
            NDArray t = ConsistencyRegularization.term(m.create(new float[] {1, 2}), m.create(new float[] {3}),
                    m.create(new float[] {0, 2}), m.create(new float[] {5}));
            assertThat((double) t.getFloat()).isCloseTo(5.0 / 3, within(1e-6));

            ConsistencyRegularization cr = new ConsistencyRegularization(4.0, 100);
            Constant d = new Constant();
            NDArray images = m.zeros(new Shape(2, 3, 8, 8));
            NDArray logitsReal = m.create(new float[] {1, 2}, new Shape(2, 1));
            NDArray logitsFake = m.create(new float[] {3, -1}, new Shape(2, 1));
            // strong logits are all 0.5: ((0.5)² + 1.5² + 2.5² + 1.5²) / 4 = 2.75, times 4
            assertThat((double) cr.loss(d, images, images, logitsReal, logitsFake, 100, new SplittableRandom(0)).getFloat())
                    .isCloseTo(11.0, within(1e-5));
            assertThat((double) cr.loss(d, images, images, logitsReal, logitsFake, 99, new SplittableRandom(0)).getFloat()).isZero();
            assertThat(d.calls).isEqualTo(4);
            assertThat(cr.weightAt(99)).isZero();
            assertThat(cr.weightAt(100)).isEqualTo(4.0);
        }
    }

    /** Real images are smooth bright gradients, fakes are dark noise: a discriminator separates them in a few steps. */
    private static float[][] toyBatch(SplittableRandom rng, int b, int size) {
        float[] real = new float[b * 3 * size * size];
        float[] fake = new float[real.length];
        for (int n = 0; n < b; n++) {
            double phase = rng.nextDouble(0, Math.PI);
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < size; i++) {
                    for (int j = 0; j < size; j++) {
                        int k = ((n * 3 + c) * size + i) * size + j;
                        real[k] = (float) (0.5 + 0.4 * Math.sin(phase + 0.3 * (i + j)));
                        fake[k] = (float) (rng.nextDouble(-1, 1) * 0.8 - 0.2);
                    }
                }
            }
        }
        return new float[][] {real, fake};
    }

    @Test
    void patchGanTrainsFor50StepsWithFlatNativeMemory() {
        try (NDManager root = NDManager.newBaseManager();
                PatchGanDiscriminator d = PatchGanDiscriminator.create(new PatchGanDiscriminator.Config(3, 8, 2), root, 0);
                AdamW opt = new AdamW(new AdamW.Config(0.5, 0.9, 1e-8, 1e-4), root)) {
            d.train(true);
            TrainStep.enableGradients(d);
            SplittableRandom rng = new SplittableRandom(1);
            List<Integer> counts = new ArrayList<>();
            List<Double> losses = new ArrayList<>();
            for (int step = 0; step < 50; step++) {
                float[][] batch = toyBatch(rng, 4, 16);
                try (NDManager scope = root.newSubManager()) {
                    d.stateDict().values().forEach(p -> p.array().tempAttach(scope));
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray real = OwnedArrays.of(scope, batch[0], new Shape(4, 3, 16, 16));
                        NDArray fake = OwnedArrays.of(scope, batch[1], new Shape(4, 3, 16, 16));
                        NDArray loss = Adversarial.HINGE.discriminator(d.forward(real), d.forward(fake));
                        losses.add((double) loss.getFloat());
                        gc.backward(loss);
                    }
                    opt.update(d.trainableParameters(), 1e-3, scope);
                    Gradients.zero(d.trainableParameters().values());
                }
                if (step >= 1) { // the optimiser's moments appear at step 0
                    counts.add(arrays(root, d.manager()));
                }
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(average(losses, 45, 50)).isLessThan(average(losses, 0, 5) * 0.5);
        }
    }

    /**
     * The reference's full discriminator objective on the DINO heads: weakly augmented inputs, hinge,
     * LeCAM and consistency regularisation. Real and fake go through one forward pass here: the heads'
     * batch normalisation would otherwise remove exactly the brightness difference this toy problem offers.
     */
    @Test
    void dinoDiscriminatorTrainsWithTheFullObjectiveAndFlatNativeMemory() {
        try (NDManager root = NDManager.newBaseManager();
                DinoDiscriminator d = DinoDiscriminator.create(dinoConfig(), new PatchProjection(root, 5), new SplittableRandom(6), root, 7);
                AdamW opt = new AdamW(new AdamW.Config(0.5, 0.9, 1e-8, 1e-4), root)) {
            d.train(true);
            TrainStep.enableGradients(d);
            SplittableRandom rng = new SplittableRandom(8);
            DiffAugment weak = DiffAugment.parse(DiffAugment.DEFAULT_POLICY, 0.5);
            LeCam lecam = new LeCam(0.999);
            ConsistencyRegularization cr = new ConsistencyRegularization(0.1, 0);
            List<Integer> counts = new ArrayList<>();
            List<Double> hinge = new ArrayList<>();
            for (int step = 0; step < 20; step++) {
                float[][] batch = toyBatch(rng, 2, 32);
                long s = step;
                TrainStep.run(d, root, scope -> {
                    NDArray real = OwnedArrays.of(scope, batch[0], new Shape(2, 3, 32, 32));
                    NDArray fake = OwnedArrays.of(scope, batch[1], new Shape(2, 3, 32, 32));
                    NDArray logits = d.forward(weak.apply(real.concat(fake, 0), rng));
                    NDArray lr = logits.get("0:2");
                    NDArray lf = logits.get("2:4");
                    lecam.update(lr, lf);
                    NDArray h = Adversarial.HINGE.discriminator(lr, lf);
                    hinge.add((double) h.getFloat());
                    NDArray adv = OwnedArrays.mul(h.add(OwnedArrays.mul(lecam.regularizer(lr, lf), 0.001)), 0.4);
                    return adv.add(cr.loss(d, real, fake, lr, lf, s, rng));
                }, opt, 3e-3, 1.0);
                if (step >= 1) {
                    counts.add(arrays(root, d.manager()));
                }
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(average(hinge, 15, 20)).isLessThan(average(hinge, 0, 5) * 0.7);
        }
    }

    private static double average(List<Double> v, int from, int to) {
        return v.subList(from, to).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
