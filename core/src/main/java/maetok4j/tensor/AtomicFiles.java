package maetok4j.tensor;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files so that readers, and the next run after a crash, see either the old content or the complete
 * new one, never a part: outputs of long jobs (checkpoints, latents, reports) are checked for existence to
 * decide what is left to do.
 */
public final class AtomicFiles {

    private AtomicFiles() {}

    @FunctionalInterface
    public interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }

    /**
     * Lets {@code writer} fill a hidden temp file beside {@code target}, then makes it durable and renames it
     * over the target. On any failure the temp file is removed and the target keeps its old content.
     *
     * @throws TensorFileException "&lt;target&gt;: cannot write: &lt;reason&gt;" on I/O errors
     */
    public static void write(Path target, IoConsumer<Path> writer) {
        Path temp = null;
        try {
            temp = newTempFile(target);
            writer.accept(temp);
            moveInto(temp, target);
            temp = null;
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + describe(e), e);
        } finally {
            if (temp != null) {
                deleteQuietly(temp);
            }
        }
    }

    public static void writeString(Path target, String content) {
        write(target, p -> Files.writeString(p, content, StandardCharsets.UTF_8));
    }

    /**
     * An empty hidden file beside {@code target} (creating missing parent directories). Unlike
     * {@link Files#createTempFile}, which makes files readable by their owner only, it gets the permissions
     * any new file gets, which the target then keeps.
     */
    static Path newTempFile(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        String nonce = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
        return Files.createFile(dir.resolve("." + target.getFileName() + "." + nonce + ".tmp"));
    }

    /** Flushes {@code temp} to disk, renames it over {@code target}, then flushes the directory entry. */
    static void moveInto(Path temp, Path target) throws IOException {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(target.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException e) {
            // Some platforms cannot open or sync directories; the rename itself is still atomic.
        }
    }

    static void deleteQuietly(Path temp) {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // Nothing better to do: the temp file is hidden and named after its target.
        }
    }

    /** A short human reason: the JDK's file exceptions often carry only a path as their message. */
    static String describe(IOException e) {
        if (e instanceof FileSystemException f) {
            String reason = f.getReason() != null ? f.getReason()
                    : f instanceof NoSuchFileException ? "no such file or directory"
                    : f instanceof AccessDeniedException ? "permission denied"
                    : f instanceof FileAlreadyExistsException ? "already exists"
                    : f.getClass().getSimpleName();
            return f.getFile() == null ? reason : f.getFile() + ": " + reason;
        }
        if (e instanceof ClosedChannelException) {
            return "the file was closed";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
