package maetok4j.report;

import java.util.List;

/**
 * What made a number or a figure: the command line, the configuration it ran with and its seed, so that a reader
 * can run it again. Rendered as a shell comment naming config and seed above the command.
 *
 * @param command the full command line, e.g. {@code maetok train --preset cpu --out runs/demo/maetok-stage1}
 * @param config the configuration, e.g. "preset cpu (copied to runs/demo/maetok-stage1/train.yaml)"
 * @param seed the seed and where it is set, e.g. "0 (global_seed)"
 */
public record Provenance(String command, String config, String seed) {

    public Provenance {
        Inline.requireText(command, "provenance command");
        Inline.requireText(config, "provenance config of '" + command + "'");
        Inline.requireText(seed, "provenance seed of '" + command + "'");
        if (command.contains("\n") || config.contains("\n") || seed.contains("\n")) {
            throw new IllegalArgumentException("provenance of '" + command.lines().findFirst().orElse("") + "': one line each");
        }
    }

    /** The shell comment line above the command. */
    String comment() {
        return "# config: " + config + "; seed: " + seed;
    }

    static List<Provenance> require(List<Provenance> madeBy, String what) {
        List<Provenance> copy = List.copyOf(madeBy);
        if (copy.isEmpty()) {
            throw new IllegalArgumentException(what + ": names no command that made it");
        }
        return copy;
    }
}
