package maetok4j.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/** Turns an exception into the one line a user needs: what failed and why, without a stack trace. */
final class Failures {

    private Failures() {}

    static String describe(Throwable e) {
        if (e instanceof NoSuchFileException n) {
            return n.getFile() + ": no such file";
        }
        if (e instanceof AccessDeniedException a) {
            return a.getFile() + ": permission denied";
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory: try a smaller --batch-size";
        }
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName() + (e.getCause() != null ? ": " + describe(e.getCause()) : "");
        }
        if (e instanceof IOException && !(e.getCause() == null)) {
            return m + ": " + describe(e.getCause());
        }
        return m.lines().findFirst().orElse(m);
    }
}
