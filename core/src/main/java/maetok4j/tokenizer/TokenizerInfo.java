package maetok4j.tokenizer;

import java.util.Map;

/**
 * What {@code maetok info} reports about a tokenizer.
 *
 * @param parameters       parameter elements, buffers excluded (the reference's {@code sum(p.numel())})
 * @param stateElements    elements of every state-dict tensor, buffers included
 * @param parametersByPart parameters of "encoder" (with quant_conv), "decoder" (with post_quant_conv), "aux"
 * @param encodeFlops      FLOPs (2 per multiply-add) to encode one image
 * @param decodeFlops      FLOPs to decode one latent
 */
public record TokenizerInfo(
        String kind,
        int imageSize,
        long[] latentShape,
        long parameters,
        long stateElements,
        int stateTensors,
        Map<String, Long> parametersByPart,
        long encodeFlops,
        long decodeFlops) {}
