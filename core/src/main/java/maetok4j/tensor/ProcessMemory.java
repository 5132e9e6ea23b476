package maetok4j.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's memory as Linux reports it (native tensors live outside the Java heap, so RSS is the measure). */
public final class ProcessMemory {

    private ProcessMemory() {}

    /** A field of {@code /proc/self/status} in kB ({@code VmRSS}, {@code VmHWM}, ...), or 0 where unknown. */
    public static long kb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** Resident memory in bytes, or 0 where unknown. */
    public static long rssBytes() {
        return kb("VmRSS") * 1024;
    }
}
