package maetok4j.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tensor.AtomicFiles;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl}: one JSON object per logged step ({@code step}, {@code loss}, each loss term, learning
 * rate, throughput, and held-out metrics when they were measured). A resumed run first drops the lines
 * after its checkpoint, so the file reads as one uninterrupted run.
 */
public final class MetricsLog implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** Opens the log for appending, keeping only rows with {@code step <= keepThrough} (all rows are dropped for -1). */
    public static MetricsLog open(Path file, long keepThrough) {
        try {
            List<String> kept = new ArrayList<>();
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (!line.isBlank() && stepOf(line) <= keepThrough) {
                        kept.add(line);
                    }
                }
            }
            AtomicFiles.writeString(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
            return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot open the metrics log: " + e.getMessage(), e);
        }
    }

    private static long stepOf(String line) throws IOException {
        JsonNode n = JSON.readTree(line);
        return n.path("step").asLong(Long.MAX_VALUE);
    }

    /** Appends one row and flushes it (a crash loses at most the row being written). */
    public void append(long step, Map<String, Double> values) {
        ObjectNode row = JSON.createObjectNode().put("step", step);
        values.forEach((k, v) -> {
            if (v != null) {
                row.put(k, v);
            }
        });
        try {
            out.write(JSON.writeValueAsString(row));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Every row of a log file as name → value (the step included). */
    public static List<Map<String, Double>> read(Path file) {
        List<Map<String, Double>> rows = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) {
                    continue;
                }
                Map<String, Double> row = new LinkedHashMap<>();
                JSON.readTree(line).fields().forEachRemaining(e -> {
                    if (e.getValue().isNumber()) {
                        row.put(e.getKey(), e.getValue().asDouble());
                    }
                });
                rows.add(row);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        return rows;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
