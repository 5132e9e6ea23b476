package maetok4j.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

class AtomicFilesTest {

    @TempDir
    Path tmp;

    @Test
    void createsParentsAndReplacesTheTarget() throws IOException {
        Path target = tmp.resolve("a/b/out.json");
        AtomicFiles.writeString(target, "{\"v\":1}");
        assertThat(target).hasContent("{\"v\":1}");
        AtomicFiles.writeString(target, "{\"v\":2}");
        assertThat(target).hasContent("{\"v\":2}");
        assertThat(listing(target.getParent())).containsExactly(target);
    }

    @Test
    void aFailingWriterLeavesTheTargetByteIdenticalAndNoTempFile() throws IOException {
        byte[] original = new byte[10_000];
        new Random(1).nextBytes(original);
        Path target = Files.write(tmp.resolve("keep.bin"), original);
        assertThatThrownBy(() -> AtomicFiles.write(target, p -> {
            Files.write(p, new byte[] {1, 2, 3});
            throw new IOException("disk full");
        })).isInstanceOf(TensorFileException.class).hasMessage(target + ": cannot write: disk full");
        assertThat(Files.readAllBytes(target)).isEqualTo(original);
        assertThat(listing(tmp)).containsExactly(target);

        IllegalStateException bug = new IllegalStateException("bug in the writer");
        assertThatThrownBy(() -> AtomicFiles.write(target, p -> {
            Files.write(p, new byte[] {1, 2, 3});
            throw bug;
        })).isSameAs(bug);
        assertThat(Files.readAllBytes(target)).isEqualTo(original);
        assertThat(listing(tmp)).containsExactly(target);
    }

    @Test
    void aParentThatIsAFileIsReported() throws IOException {
        Path blocker = Files.writeString(tmp.resolve("file"), "x");
        Path target = blocker.resolve("sub/out.json");
        assertThatThrownBy(() -> AtomicFiles.writeString(target, "{}"))
                .isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(target + ": cannot write: ")
                .hasMessageContaining(blocker.toString());
        assertThat(blocker).hasContent("x");
    }

    @Test
    void aTargetThatIsADirectoryIsReportedAndKept() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("dir"));
        Files.writeString(target.resolve("inside"), "x");
        assertThatThrownBy(() -> AtomicFiles.writeString(target, "{}"))
                .isInstanceOf(TensorFileException.class).hasMessageStartingWith(target + ": cannot write: ");
        assertThat(target.resolve("inside")).hasContent("x");
        assertThat(listing(tmp)).containsExactly(target);
    }

    @Test
    void aDirectoryWithoutWritePermissionIsReported() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("ro"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeThat(Files.isWritable(dir)).as("permissions are enforced (not running as root)").isFalse();
            Path target = dir.resolve("out.json");
            assertThatThrownBy(() -> AtomicFiles.writeString(target, "{}"))
                    .isInstanceOf(TensorFileException.class)
                    .hasMessageStartingWith(target + ": cannot write: ")
                    .hasMessageEndingWith("permission denied");
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void theFileGetsTheUsualPermissionsNotTheTempFileOnes() throws IOException {
        Path target = tmp.resolve("out.json");
        AtomicFiles.writeString(target, "{}");
        Path plain = Files.writeString(tmp.resolve("plain.json"), "{}");
        assertThat(Files.getPosixFilePermissions(target)).isEqualTo(Files.getPosixFilePermissions(plain));
    }

    static List<Path> listing(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        }
    }
}
