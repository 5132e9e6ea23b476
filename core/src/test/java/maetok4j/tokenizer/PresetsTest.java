package maetok4j.tokenizer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Architectures described without allocating weights: counts must equal the reference's. */
class PresetsTest {

    @Test
    void releasedMaetokMatchesTheReferenceCounts() {
        TokenizerInfo info = new MAETok(Presets.get("maetok-b-128")).info();
        assertThat(info.parameters()).isEqualTo(173_891_360L);
        assertThat(info.stateElements()).isEqualTo(173_892_384L); // + freqs_t_x/y buffers of both ViTs
        assertThat(info.stateTensors()).isEqualTo(316);
        assertThat(info.latentShape()).containsExactly(128, 32);
        // spec §1.2: encoder+quant_conv 86.09 M, decoder+post_quant_conv 87.80 M
        assertThat(info.parametersByPart().get("encoder")).isBetween(86_085_000L, 86_095_000L);
        assertThat(info.parametersByPart().get("decoder")).isBetween(87_795_000L, 87_805_000L);
    }

    @Test
    void fiveTwelveModelOnlyGrowsThePositionTables() {
        assertThat(new MAETok(Presets.get("maetok-b-128-512")).info().stateElements()).isEqualTo(175_072_032L);
    }

    @Test
    void releasedKeysFollowTheReferenceLayout() {
        var keys = new MAETok(Presets.get("maetok-b-128")).stateDict();
        assertThat(keys.get("encoder.freqs").shape().getShape()).containsExactly(2, 12, 384);
        assertThat(keys.get("encoder.model.pos_embed").shape().getShape()).containsExactly(1, 257, 768);
        assertThat(keys.get("decoder.model.blocks.11.adaLN_modulation.1.weight").shape().getShape()).containsExactly(3072, 32);
        assertThat(keys.get("decoder.model.norm.adaLN_modulation.1.weight").shape().getShape()).containsExactly(1536, 32);
        assertThat(keys.get("decoder.to_pixel.model.weight").shape().getShape()).containsExactly(768, 768);
        assertThat(keys).doesNotContainKey("decoder.model.cls_token").containsKey("encoder.mask_token");
    }

    @Test
    void unknownPresetIsNamed() {
        assertThatThrownBy(() -> Presets.get("nope")).hasMessageContaining("unknown preset 'nope'").hasMessageContaining("maetok-b-128");
    }
}
