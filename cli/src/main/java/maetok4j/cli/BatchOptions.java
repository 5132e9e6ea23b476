package maetok4j.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options shared by the commands that run a tokenizer over many images. */
final class BatchOptions {

    @Option(names = "--batch-size", defaultValue = "8", description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the summary as JSON to FILE.")
    Path json;

    void validate(picocli.CommandLine.Model.CommandSpec spec) {
        if (batchSize < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--batch-size must be at least 1, got " + batchSize);
        }
    }
}
