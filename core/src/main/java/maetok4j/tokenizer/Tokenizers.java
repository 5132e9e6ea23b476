package maetok4j.tokenizer;

import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a tokenizer from what a user names: a checkpoint folder, or a preset (random weights, for inspection and benchmarks). */
public final class Tokenizers {

    private static final Logger LOG = LoggerFactory.getLogger(Tokenizers.class);

    private Tokenizers() {}

    public static Tokenizer open(String modelOrPreset, NDManager manager) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.load(p, manager);
        }
        if (Presets.exists(modelOrPreset)) {
            LOG.info("{}: preset with random weights (seed 0)", modelOrPreset);
            return MAETok.create(Presets.get(modelOrPreset), manager, 0);
        }
        VmaeConfig vmae = Presets.vmae(modelOrPreset);
        if (vmae != null) {
            LOG.info("{}: preset with random weights (seed 0)", modelOrPreset);
            return VMAE.create(vmae, manager, 0);
        }
        throw notFound(modelOrPreset);
    }

    /** The MAETok configuration behind a folder or preset name, without loading weights. */
    public static TokenizerConfig config(String modelOrPreset) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.readConfig(p);
        }
        if (Presets.exists(modelOrPreset)) {
            return Presets.get(modelOrPreset);
        }
        if (Presets.vmae(modelOrPreset) != null) {
            throw new CheckpointException("'" + modelOrPreset + "' is a VMAE preset, which has no MAETok configuration");
        }
        throw notFound(modelOrPreset);
    }

    /** The VMAE configuration behind a folder or preset name, without loading weights. */
    public static VmaeConfig vmaeConfig(String modelOrPreset) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.readVmaeConfig(p);
        }
        VmaeConfig vmae = Presets.vmae(modelOrPreset);
        if (vmae != null) {
            return vmae;
        }
        if (Presets.exists(modelOrPreset)) {
            throw new CheckpointException("'" + modelOrPreset + "' is a MAETok preset, not a VMAE");
        }
        throw notFound(modelOrPreset);
    }

    /** Sizes and costs of the tokenizer behind a folder or preset name (MAETok or VMAE), without loading weights. */
    public static TokenizerInfo info(String modelOrPreset) {
        Path p = Path.of(modelOrPreset);
        if (Files.isDirectory(p)) {
            return Checkpoints.info(p);
        }
        if (Presets.exists(modelOrPreset)) {
            return new MAETok(Presets.get(modelOrPreset)).info();
        }
        VmaeConfig vmae = Presets.vmae(modelOrPreset);
        if (vmae != null) {
            return new VMAE(vmae).info();
        }
        throw notFound(modelOrPreset);
    }

    private static CheckpointException notFound(String name) {
        return new CheckpointException("'" + name + "' is neither a checkpoint folder nor a preset ("
                + String.join(", ", Presets.names()) + ")");
    }
}
