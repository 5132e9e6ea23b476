package maetok4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tensor.AtomicFiles;

import java.io.UncheckedIOException;
import java.nio.file.Path;

/** JSON results for scripts: written atomically to the file a command was given. */
final class Reports {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Reports() {}

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    static String toString(ObjectNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, ObjectNode node) {
        if (file != null) {
            AtomicFiles.writeString(file, toString(node) + "\n");
        }
    }
}
