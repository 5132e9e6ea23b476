package maetok4j.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every way a header can be broken is refused at open, with one line naming the file and the problem. */
class SafetensorsValidationTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    /** The bytes of a safetensors file: the length of {@code header}, the header, then {@code data}. */
    static byte[] fileBytes(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    Path file(byte[] bytes) throws IOException {
        Path f = tmp.resolve("t" + System.nanoTime() + ".safetensors");
        Files.write(f, bytes);
        return f;
    }

    static void assertRejected(Path f, String problem) {
        assertThatThrownBy(() -> Safetensors.open(f).close())
                .isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(f + ": ")
                .hasMessageContaining(problem)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    // Single quotes in the headers stand for double quotes.
    @ParameterizedTest(name = "{2}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "{not json | 0 | header is not valid JSON",
        "[1,2] | 0 | header is not a JSON object",
        "{} {} | 0 | header is not valid JSON",
        "{'x':{'dtype':'U8','shape':[],'data_offsets':[0,1]},'x':{'dtype':'U8','shape':[],'data_offsets':[1,2]}} | 2 | Duplicate field 'x'",
        "{'x':[1]} | 0 | tensor 'x': entry is not an object",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'extra':1}} | 4 | tensor 'x': unexpected field 'extra'",
        "{'x':{'shape':[1],'data_offsets':[0,4]}} | 4 | tensor 'x': unknown or missing dtype null",
        "{'x':{'dtype':4,'shape':[1],'data_offsets':[0,4]}} | 4 | tensor 'x': unknown or missing dtype 4",
        "{'x':{'dtype':'Q4','shape':[1],'data_offsets':[0,1]}} | 1 | tensor 'x': unknown or missing dtype \"Q4\"",
        "{'x':{'dtype':'F32','data_offsets':[0,4]}} | 4 | tensor 'x': missing or malformed shape null",
        "{'x':{'dtype':'F32','shape':4,'data_offsets':[0,4]}} | 4 | tensor 'x': missing or malformed shape 4",
        "{'x':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}} | 4 | tensor 'x': shape [-1] has an invalid dimension -1",
        "{'x':{'dtype':'F32','shape':[1.5],'data_offsets':[0,4]}} | 4 | tensor 'x': shape [1.5] has an invalid dimension 1.5",
        "{'x':{'dtype':'F32','shape':[1]}} | 4 | tensor 'x': data_offsets must be two non-negative integers, got null",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':[0,4,8]}} | 8 | data_offsets must be two non-negative integers, got [0,4,8]",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':['0','4']}} | 4 | data_offsets must be two non-negative integers",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':[-4,0]}} | 4 | data_offsets must be two non-negative integers",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':[0,1e30]}} | 4 | data_offsets must be two non-negative integers",
        "{'x':{'dtype':'F32','shape':[2],'data_offsets':[8,0]}} | 8 | tensor 'x': data_offsets [8, 0] end before they begin",
        "{'x':{'dtype':'F32','shape':[2],'data_offsets':[0,4]}} | 4 | tensor 'x': shape [2] F32 needs 8 bytes but offsets give 4",
        "{'x':{'dtype':'I64','shape':[],'data_offsets':[0,4]}} | 4 | tensor 'x': shape [] I64 needs 8 bytes but offsets give 4",
        "{'x':{'dtype':'F32','shape':[100000,100000,100000,100000],'data_offsets':[0,4]}} | 4 | shape [100000,100000,100000,100000] F32 is too large",
        "{'x':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}} | 4 | tensor 'x': offsets past end of file (8 > 4 data bytes",
        "{'x':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'y':{'dtype':'F32','shape':[1],'data_offsets':[2,6]}} | 8 | tensors 'x' [0, 4) and 'y' [2, 6) overlap",
        "{'__metadata__':[]} | 0 | __metadata__ is not an object",
        "{'__metadata__':{'k':1}} | 0 | __metadata__ value 'k' is not a string",
    })
    void malformedHeader(String header, int dataBytes, String problem) throws IOException {
        assertRejected(file(fileBytes(header.replace('\'', '"'), new byte[dataBytes])), problem);
    }

    @Test
    void aGapBetweenTensorsIsAllowed() throws IOException {
        Path f = file(fileBytes("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"y\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}", new byte[] {1, 0, 0, 2}));
        try (Safetensors s = Safetensors.open(f)) {
            assertThat(s.rowBytes("y", 0, 1).get()).isEqualTo((byte) 2);
        }
    }

    @Test
    void headerLengthMustFitTheFileAndTheLimit() throws IOException {
        assertRejected(file(new byte[0]), "not a safetensors file (0 bytes, shorter than the 8-byte header length)");
        assertRejected(file(new byte[] {1, 2, 3}), "(3 bytes, shorter than the 8-byte header length)");
        assertRejected(file(new byte[8]), "header length 0 is empty");
        assertRejected(file(lengthThen(1000, 20)), "header length 1000 exceeds the 20 bytes that follow it (truncated");
        assertRejected(file(lengthThen(1L << 40, 8)), "header length 1099511627776 exceeds the limit of 104857600 bytes");
        assertRejected(file(lengthThen(-1, 8)), "header length 18446744073709551615 exceeds the limit");
        // A file long enough for the claimed header (sparse: nothing is written or read): only the limit stops it.
        Path big = tmp.resolve("big.safetensors");
        try (RandomAccessFile r = new RandomAccessFile(big.toFile(), "rw")) {
            r.setLength(8 + Safetensors.MAX_HEADER + 8);
            r.write(lengthThen(Safetensors.MAX_HEADER + 1, 0));
        }
        assertRejected(big, "header length 104857601 exceeds the limit of 104857600 bytes");
    }

    static byte[] lengthThen(long n, int zeros) {
        return ByteBuffer.allocate(8 + zeros).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array();
    }

    @Test
    void headerMustBeUtf8() throws IOException {
        byte[] f = fileBytes("{\"x\":1}", new byte[0]);
        f[10] = (byte) 0xff;
        assertRejected(file(f), "header is not UTF-8");
    }

    @Test
    void truncatedRealFile() throws IOException {
        byte[] full = Files.readAllBytes(resource("safetensors/python-io.safetensors"));
        assertRejected(file(Arrays.copyOf(full, full.length - 100)),
                "tensor 'latents_masked': offsets past end of file (75456 > 75356 data bytes; truncated?)");
        assertRejected(file(Arrays.copyOf(full, 100)), "header length 376 exceeds the 92 bytes that follow it");
    }

    @Test
    void realFileWhoseHeaderLiesAboutAShape() throws IOException {
        byte[] bytes = Files.readAllBytes(resource("safetensors/python-io.safetensors"));
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = text.indexOf("\"shape\":[3,8,8]");
        assertThat(at).isPositive();
        bytes[at + "\"shape\":[3,8,".length()] = '9';
        assertRejected(file(bytes), "tensor 'latents': shape [3,8,9] F32 needs 864 bytes but offsets give 768");
    }

    @Test
    void unreadablePaths() throws IOException {
        Path missing = tmp.resolve("missing.safetensors");
        assertRejected(missing, "cannot open: " + missing + ": no such file or directory");
        Path dir = Files.createDirectory(tmp.resolve("dir.safetensors"));
        assertRejected(dir, "cannot read");
    }
}
