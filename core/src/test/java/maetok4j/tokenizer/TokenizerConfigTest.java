package maetok4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenizerConfigTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode fixtureConfig() throws IOException {
        return (ObjectNode) JSON.readTree(resource("fixtures/maetok-rope-mixed/config.json").toFile());
    }

    @Test
    void readsTheFixtureConfig() throws IOException {
        TokenizerConfig c = TokenizerConfig.fromJson(fixtureConfig());
        assertThat(c.imageSize()).isEqualTo(32);
        assertThat(c.encoderDims()).isEqualTo(new ViTDims(64, 2, 2));
        assertThat(c.auxDecoderDims()).isEqualTo(new ViTDims(32, 1, 1));
        assertThat(c.position()).isEqualTo(TokenizerConfig.Position.ROPE_MIXED);
        assertThat(c.decoderMoVQ()).isTrue();
        assertThat(c.auxDecoders()).containsExactly("hog");
        assertThat(c.extra().get("codebook_size").asInt()).isEqualTo(16384);
    }

    @Test
    void roundTripKeepsEveryKeyAndValue() throws IOException {
        ObjectNode original = fixtureConfig();
        original.put("some_future_field", "kept");
        ObjectNode written = TokenizerConfig.fromJson(original).toJson();
        original.fields().forEachRemaining(e -> assertThat(written.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue()));
        assertThat(TokenizerConfig.fromJson(written)).isEqualTo(TokenizerConfig.fromJson(original));
    }

    @Test
    void dimensionsComeFromTheModelNameWhenAbsent() throws IOException {
        ObjectNode c = fixtureConfig();
        c.remove("encoder_dims");
        c.put("encoder_model", "vit_base_patch14_dinov2.lvd142m");
        assertThat(TokenizerConfig.fromJson(c).encoderDims()).isEqualTo(new ViTDims(768, 12, 12));
    }

    @Test
    void everyBadFieldIsNamed() throws IOException {
        assertBad(c -> c.put("image_size", "big"), "field 'image_size' must be an integer");
        assertBad(c -> c.put("image_size", 30), "image_size 30 is not a multiple of enc_patch_size 8");
        assertBad(c -> c.put("enc_type", "cnn"), "enc_type 'cnn' is not supported");
        assertBad(c -> c.put("to_pixel", "siren"), "to_pixel 'siren' is not supported");
        assertBad(c -> c.put("enc_tuning_method", "lora"), "enc_tuning_method 'lora' is not supported");
        assertBad(c -> c.put("use_rope", false).put("use_ape", false), "use_ape=false needs use_rope=true");
        assertBad(c -> c.put("use_rope", false).put("use_ape", true).put("dec_cls_token", false), "use_ape without dec_cls_token");
        assertBad(c -> c.put("encoder_model", "vit_giant_patch14_dinov2.lvd142m").remove("encoder_dims"), "ViT-G");
        assertBad(c -> ((ObjectNode) c.get("encoder_dims")).put("num_heads", 3), "not divisible by num_heads 3");
        assertBad(c -> c.putArray("aux_decoders").add("lpips"), "unknown target 'lpips'");
        assertBad(c -> c.put("enc_token_drop_max", 0.2), "enc_token_drop_max must be in [enc_token_drop, 1)");
        assertBad(c -> c.put("vq_std", 0.0), "vq_std must be positive");
    }

    interface Edit {
        void apply(ObjectNode c);
    }

    static void assertBad(Edit edit, String message) throws IOException {
        ObjectNode c = fixtureConfig();
        edit.apply(c);
        assertThatThrownBy(() -> TokenizerConfig.fromJson(c)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }
}
