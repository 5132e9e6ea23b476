package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class MAETokTest {

    static {
        Engines.configure();
    }

    static TokenizerConfig small(boolean mixed) {
        ObjectNode c = Presets.get("maetok-cpu").toJson();
        c.put("rope_mixed", mixed);
        c.set("encoder_dims", c.objectNode().put("embed_dim", 32).put("depth", 2).put("num_heads", 2));
        c.set("decoder_dims", c.objectNode().put("embed_dim", 32).put("depth", 2).put("num_heads", 2));
        return TokenizerConfig.fromJson(c);
    }

    @Test
    void axialRopeModelRunsAndHasNoFrequencyTensors() {
        TokenizerConfig config = small(false);
        assertThat(config.position()).isEqualTo(TokenizerConfig.Position.ROPE_AXIAL);
        try (NDManager m = NDManager.newBaseManager(); MAETok model = MAETok.create(config, m, 0)) {
            assertThat(model.stateDict().keySet()).noneMatch(k -> k.contains("freqs"));
            NDArray images = m.randomUniform(-1, 1, new Shape(2, 3, 32, 32));
            NDArray z = model.encode(images);
            assertThat(z.getShape()).isEqualTo(new Shape(2, 16, 8));
            assertThat(model.decode(z).getShape()).isEqualTo(new Shape(2, 3, 32, 32));
        }
    }

    @Test
    void picturesOfAnySizeGoInAndComeOut() {
        try (NDManager m = NDManager.newBaseManager(); MAETok model = MAETok.create(small(true), m, 0)) {
            var wide = new java.awt.image.BufferedImage(90, 50, java.awt.image.BufferedImage.TYPE_INT_RGB);
            var exact = new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_INT_RGB);
            NDArray z = model.encodeImages(java.util.List.of(wide, exact), m);
            assertThat(z.getShape()).isEqualTo(new Shape(2, 16, 8));
            var back = model.decodeImages(z);
            assertThat(back).hasSize(2);
            assertThat(back.get(0).getWidth()).isEqualTo(32);
        }
    }

    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() {
        try (NDManager m = NDManager.newBaseManager();
                MAETok a = MAETok.create(small(true), m, 5);
                MAETok b = MAETok.create(small(true), m, 5);
                MAETok c = MAETok.create(small(true), m, 6)) {
            String key = "encoder.model.blocks.1.attn.qkv.weight";
            assertThat(b.stateDict().get(key).array().toFloatArray()).containsExactly(a.stateDict().get(key).array().toFloatArray());
            assertThat(c.stateDict().get(key).array().toFloatArray()).isNotEqualTo(a.stateDict().get(key).array().toFloatArray());
            // the reference's initial values: LayerScale 1e-5, zero adaLN, trunc-normal(0.02) linear weights
            assertThat(a.stateDict().get("encoder.model.blocks.0.ls1.gamma").array().toFloatArray()).containsOnly(1e-5f);
            assertThat(a.stateDict().get("decoder.model.blocks.0.adaLN_modulation.1.weight").array().toFloatArray()).containsOnly(0f);
            float[] w = a.stateDict().get(key).array().toFloatArray();
            double var = 0;
            for (float v : w) {
                var += v * v;
            }
            assertThat(Math.sqrt(var / w.length)).isCloseTo(0.02, within(0.002));
        }
    }

    @Test
    void maskingReplacesPatchesOnlyWhereTheMaskSaysSo() {
        try (NDManager m = NDManager.newBaseManager(); MAETok model = MAETok.create(small(true), m, 0)) {
            NDArray images = m.randomUniform(-1, 1, new Shape(1, 3, 32, 32));
            NDArray none = model.encodeMasked(images, m.zeros(new Shape(1, 64)));
            assertThat(none.toFloatArray()).containsExactly(model.encode(images).toFloatArray());
            float[] mask = TokenMasking.sampleMask(1, 64, 0.5, new SplittableRandom(1));
            NDArray masked = model.encodeMasked(images, m.create(mask, new Shape(1, 64)));
            assertThat(masked.toFloatArray()).isNotEqualTo(none.toFloatArray());
            assertThatThrownBy(() -> model.encodeMasked(images, m.zeros(new Shape(1, 63)))).hasMessageContaining("mask must be [1, 64]");
        }
    }

    @Test
    void maskRatiosFollowTheReferenceTruncatedNormal() {
        TokenMasking masking = new TokenMasking(0.4, 0.6);
        SplittableRandom rng = new SplittableRandom(42);
        double sum = 0;
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            double r = masking.sampleRatio(rng);
            assertThat(r).isBetween(0.4, 0.6);
            sum += r;
        }
        // scipy.stats.truncnorm((0.4-0.6)/0.25, 0, loc=0.6, scale=0.25).mean() = 0.505212
        assertThat(sum / n).isCloseTo(0.505212, within(0.0006));
        float[] mask = TokenMasking.sampleMask(3, 256, 0.41, rng);
        for (int b = 0; b < 3; b++) {
            int count = 0;
            for (int i = 0; i < 256; i++) {
                count += (int) mask[b * 256 + i];
            }
            assertThat(count).isEqualTo(105); // ceil(256 * 0.41)
        }
        assertThat(TokenMasking.linearDecay(0.6, 25, 100)).isCloseTo(0.45, within(1e-12));
        assertThat(TokenMasking.linearDecay(0.6, 100, 100)).isZero();
    }

    @Test
    void freezingExcludesParametersButKeepsBuffersOut() {
        MAETok model = new MAETok(small(true));
        model.encoder.setTrainable(false);
        assertThat(model.trainableParameters().keySet()).noneMatch(k -> k.startsWith("encoder.")).anyMatch(k -> k.startsWith("decoder."));
        assertThat(model.trainableParameters().values()).noneMatch(Parameter::isBuffer);
        model.train(true);
        assertThat(model.encoder.isTraining()).isTrue();
        model.train(false);
        assertThat(model.decoder.isTraining()).isFalse();
        // no decay on 1-D tensors, tokens, position tables, RoPE frequencies; decay on matrices
        var p = model.stateDict();
        assertThat(p.get("encoder.latent_tokens").weightDecay()).isFalse();
        assertThat(p.get("encoder.freqs").weightDecay()).isFalse();
        assertThat(p.get("encoder.model.pos_embed").weightDecay()).isFalse();
        assertThat(p.get("encoder.model.blocks.0.attn.qkv.bias").weightDecay()).isFalse();
        assertThat(p.get("encoder.model.blocks.0.attn.qkv.weight").weightDecay()).isTrue();
        assertThat(p.get("encoder.model.patch_embed.proj.weight").weightDecay()).isTrue();
    }
}
