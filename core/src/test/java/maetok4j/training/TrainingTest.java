package maetok4j.training;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tensor.OwnedArrays;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tokenizer.MAETok;
import maetok4j.tokenizer.Presets;
import maetok4j.tokenizer.TokenizerConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TrainingTest {

    static {
        Engines.configure();
    }

    static MAETok tiny(NDManager m) {
        ObjectNode c = Presets.get("maetok-cpu").toJson();
        c.set("encoder_dims", c.objectNode().put("embed_dim", 32).put("depth", 1).put("num_heads", 2));
        c.set("decoder_dims", c.objectNode().put("embed_dim", 32).put("depth", 1).put("num_heads", 2));
        return MAETok.create(TokenizerConfig.fromJson(c), m, 0);
    }

    static int arrays(NDManager... ms) {
        int n = 0;
        for (NDManager m : ms) {
            n += ((BaseNDManager) m).getManagedArrays().size();
        }
        return n;
    }

    @Test
    void nativeArrayCountStaysFlatOver200StepsAndTheLossFalls() {
        try (NDManager root = NDManager.newBaseManager(); MAETok model = tiny(root);
                AdamW opt = new AdamW(new AdamW.Config(0.9, 0.95, 1e-8, 1e-4), root)) {
            model.train(true);
            TrainStep.enableGradients(model);
            // four real emoji at 32 px: structured images a small model can learn to reconstruct
            var emoji = maetok4j.data.BundledDatasets.open("emoji-noto-64");
            float[] pixels = new float[4 * 3 * 32 * 32];
            for (int i = 0; i < 4; i++) {
                maetok4j.data.ImageTensors.writeChw(maetok4j.data.AdmCrop.centerCrop(emoji.image(i * 300), 32), pixels, i * 3 * 32 * 32);
            }
            List<Integer> counts = new ArrayList<>();
            List<Double> losses = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                TrainStep.Result r = TrainStep.run(model, root,
                        scope -> {
                            NDArray images = scope.create(pixels, new Shape(4, 3, 32, 32)); // batches live in the step's scope
                            return model.decodeForward(model.encodeForward(images, null)).sub(images).square().mean();
                        }, opt, 1e-3, 1.0);
                losses.add(r.loss());
                if (i >= 1) { // the optimiser's moments appear at step 1
                    counts.add(arrays(root, model.manager()));
                }
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(losses.get(199)).isLessThan(losses.get(0) * 0.8);
        }
    }

    /** One AdamW step by hand: w=1, g=2, lr=0.1, wd=0.5, betas (0.9, 0.95), eps 1e-8. */
    @Test
    void adamwMatchesTorchsFormula() {
        try (NDManager root = NDManager.newBaseManager(); AdamW opt = new AdamW(new AdamW.Config(0.9, 0.95, 1e-8, 0.5), root)) {
            Linear lin = new Linear(1, 1);
            lin.initialize(root, 0);
            Parameter w = lin.weight();
            w.set(root.create(new float[] {1f}, new Shape(1, 1)));
            w.array().setRequiresGradient(true);
            Map<String, Parameter> params = Map.of("weight", w);
            for (int step = 1; step <= 2; step++) {
                try (NDManager scope = root.newSubManager()) {
                    w.array().tempAttach(scope);
                    try (var gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                        gc.backward(OwnedArrays.mul(w.array(), 2).sum()); // dL/dw = 2
                    }
                    opt.update(params, 0.1, scope);
                    Gradients.zero(params.values());
                }
            }
            // torch: w *= 1 - lr*wd; m = .1*2; v = .05*4; w -= lr/(1-.9) * m / (sqrt(v)/sqrt(1-.95) + eps); twice
            double wv = 1;
            double m = 0;
            double v = 0;
            for (int t = 1; t <= 2; t++) {
                wv *= 1 - 0.1 * 0.5;
                m = 0.9 * m + 0.1 * 2;
                v = 0.95 * v + 0.05 * 4;
                wv -= 0.1 / (1 - Math.pow(0.9, t)) * m / (Math.sqrt(v) / Math.sqrt(1 - Math.pow(0.95, t)) + 1e-8);
            }
            assertThat((double) w.array().getFloat(0, 0)).isCloseTo(wv, within(1e-6));
        }
    }

    @Test
    void cosineScheduleFollowsTimm() {
        CosineSchedule s = new CosineSchedule(2e-4, 2e-5, 1e-5, 100, 1000);
        assertThat(s.lr(0)).isEqualTo(1e-5);
        assertThat(s.lr(50)).isCloseTo(1e-5 + 50 * (2e-4 - 1e-5) / 100, within(1e-15));
        // warm-up is inside the cosine (warmup_prefix=False): at step 100 the cosine is already past its start
        assertThat(s.lr(100)).isCloseTo(2e-5 + 0.5 * 1.8e-4 * (1 + Math.cos(Math.PI * 0.1)), within(1e-15));
        assertThat(s.lr(500)).isCloseTo(2e-5 + 0.9e-4, within(1e-15));
        assertThat(s.lr(1000)).isEqualTo(2e-5);
        assertThat(CosineSchedule.scaledLr(1e-4, 512)).isEqualTo(2e-4);
    }

    @Test
    void clippingScalesTheGlobalNormAndEmaAverages() {
        try (NDManager root = NDManager.newBaseManager()) {
            Linear lin = new Linear(2, 2);
            lin.initialize(root, 0);
            Module model = lin;
            TrainStep.enableGradients(model);
            try (NDManager scope = root.newSubManager()) {
                model.stateDict().values().forEach(p -> p.array().tempAttach(scope));
                try (var gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                    // weight grad = 3 everywhere (4 entries), bias grad = 4 (2 entries): norm = sqrt(36 + 32) = sqrt(68)
                    gc.backward(OwnedArrays.mul(lin.weight().array(), 3).sum().add(OwnedArrays.mul(model.stateDict().get("bias").array(), 4).sum()));
                }
                double norm = Gradients.clipGlobalNorm(model.trainableParameters(), 1.0).value();
                assertThat(norm).isCloseTo(Math.sqrt(68), within(1e-5));
                try (NDArray g = lin.weight().array().getGradient()) {
                    assertThat((double) g.getFloat(0, 0)).isCloseTo(3 / (Math.sqrt(68) + 1e-6), within(1e-6));
                }
            }
            try (Ema ema = new Ema(model, root)) {
                float before = ema.parameters().get("weight").getFloat(0, 0);
                lin.weight().array().addi(1f);
                ema.update(model, 0.9);
                assertThat((double) ema.parameters().get("weight").getFloat(0, 0)).isCloseTo(before + 0.1, within(1e-6));
            }
        }
    }

    @Test
    void nonFiniteLossStopsBeforeTheWeightsChange() {
        try (NDManager root = NDManager.newBaseManager(); MAETok model = tiny(root);
                AdamW opt = new AdamW(new AdamW.Config(0.9, 0.95, 1e-8, 0), root)) {
            TrainStep.enableGradients(model);
            float[] before = model.stateDict().get("quant_conv.weight").array().toFloatArray();
            assertThatThrownBy(() -> TrainStep.run(model, root, s -> s.create(Float.NaN).add(
                    model.stateDict().get("quant_conv.weight").array().sum()), opt, 1e-3, 1.0))
                    .isInstanceOf(TrainStep.NonFiniteException.class).hasMessageContaining("loss is NaN");
            assertThat(model.stateDict().get("quant_conv.weight").array().toFloatArray()).containsExactly(before);
        }
    }
}
