package maetok4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tokenizer.TokenizerConfig;
import maetok4j.tokenizer.TokenizerInfo;
import maetok4j.tokenizer.VmaeConfig;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Map;
import java.util.concurrent.Callable;

/** Architecture, sizes and costs of a tokenizer, read from its config alone (no weights are loaded). */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show a tokenizer's configuration, parameters per part, latent shape and FLOPs.")
final class InfoCommand implements Callable<Integer> {

    @Parameters(paramLabel = "MODEL|PRESET", description = "A checkpoint folder or a preset name.")
    String model;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Override
    public Integer call() {
        TokenizerInfo info = Tokenizers.info(model);
        boolean vmae = info.kind().equals("vmae");
        TokenizerConfig config = vmae ? null : Tokenizers.config(model);
        VmaeConfig vmaeConfig = vmae ? Tokenizers.vmaeConfig(model) : null;
        if (json) {
            ObjectNode out = Reports.object();
            out.put("model", model).put("kind", info.kind()).put("image_size", info.imageSize());
            ArrayNode shape = out.putArray("latent_shape");
            for (long d : info.latentShape()) {
                shape.add(d);
            }
            out.put("parameters", info.parameters()).put("state_elements", info.stateElements())
                    .put("state_tensors", info.stateTensors());
            ObjectNode parts = out.putObject("parameters_by_part");
            info.parametersByPart().forEach(parts::put);
            out.put("encode_flops", info.encodeFlops()).put("decode_flops", info.decodeFlops());
            out.set("config", vmae ? vmaeConfig.toJson() : config.toJson());
            System.out.println(Reports.toString(out));
            return 0;
        }
        System.out.printf("%s (%s)%n", model, info.kind());
        if (vmae) {
            System.out.printf("  image            %d x %d, patch %d%n", info.imageSize(), info.imageSize(), vmaeConfig.patchSize());
            System.out.printf("  latent           %d channels x %d x %d (%s)%n", info.latentShape()[0], info.latentShape()[1],
                    info.latentShape()[2], vmaeConfig.variational() ? "posterior mean; log-variance beside it" : "deterministic");
            System.out.printf("  encoder          width %d, depth %d, heads %d, fixed 2D sin-cos positions%n",
                    vmaeConfig.encoder().embedDim(), vmaeConfig.encoder().depth(), vmaeConfig.encoder().numHeads());
            System.out.printf("  decoder          width %d, depth %d, heads %d, 3x3 smoothing conv head%n",
                    vmaeConfig.decoder().embedDim(), vmaeConfig.decoder().depth(), vmaeConfig.decoder().numHeads());
        } else {
            System.out.printf("  image            %d x %d, patch %d (encoder) / %d (decoder)%n", info.imageSize(), info.imageSize(),
                    config.encPatchSize(), config.decPatchSize());
            System.out.printf("  latent           %d tokens x %d channels%n", info.latentShape()[0], info.latentShape()[1]);
            System.out.printf("  encoder          %s, width %d, depth %d, heads %d, %s%n", config.encoderModel(),
                    config.encoderDims().embedDim(), config.encoderDims().depth(), config.encoderDims().numHeads(), config.position());
            System.out.printf("  decoder          %s, width %d, depth %d, heads %d, %s blocks%n", config.decoderModel(),
                    config.decoderDims().embedDim(), config.decoderDims().depth(), config.decoderDims().numHeads(),
                    config.decoderMoVQ() ? "MoVQ" : "plain");
            if (!config.auxDecoders().isEmpty()) {
                System.out.printf("  aux decoders     %s%n", String.join(", ", config.auxDecoders()));
            }
        }
        System.out.printf("  parameters       %,d%n", info.parameters());
        for (Map.Entry<String, Long> e : info.parametersByPart().entrySet()) {
            if (e.getValue() > 0) {
                System.out.printf("    %-14s %,d%n", e.getKey(), e.getValue());
            }
        }
        System.out.printf("  state dict       %d tensors, %,d elements%n", info.stateTensors(), info.stateElements());
        System.out.printf("  FLOPs per image  encode %.2f G, decode %.2f G%n", info.encodeFlops() / 1e9, info.decodeFlops() / 1e9);
        if (!vmae) {
            System.out.printf("  latent norm      vq_mean %s, vq_std %s%n", config.vqMean(), config.vqStd());
        }
        return 0;
    }
}
