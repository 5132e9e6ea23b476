package maetok4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An IDX file (the MNIST format), raw or gzipped: magic {@code 0 0 type ndims}, big-endian int32
 * dimensions, then the data. Only unsigned bytes (type 0x08) are read, which covers MNIST,
 * Fashion-MNIST and the datasets this project bundles ([N, H, W] gray or [N, H, W, 3] RGB images,
 * [N] labels).
 *
 * @param dims dimensions, first the item count
 * @param data the unsigned bytes in C order
 */
public record IdxFile(String source, int[] dims, byte[] data) {

    /** Refuses headers that would allocate more than this (a corrupt or hostile file). */
    public static final long MAX_BYTES = 1L << 31;

    public static IdxFile read(Path file) {
        try (InputStream raw = Files.newInputStream(file)) {
            return read(file.toString(), raw);
        } catch (IOException e) {
            throw new ImageFileException(file + ": cannot read IDX: " + e.getMessage());
        }
    }

    /** Reads from a stream (a file or a classpath resource); {@code file} names it in errors. */
    public static IdxFile read(String file, InputStream raw) {
        try (InputStream buffered = new BufferedInputStream(raw, 1 << 16)) {
            buffered.mark(2);
            int b0 = buffered.read();
            int b1 = buffered.read();
            buffered.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(buffered, 1 << 16) : buffered;
            DataInputStream data = new DataInputStream(in);
            int magic;
            try {
                magic = data.readInt();
            } catch (EOFException e) {
                throw new ImageFileException(file + ": empty or truncated IDX header");
            }
            int type = (magic >> 8) & 0xff;
            int ndims = magic & 0xff;
            if ((magic >>> 16) != 0 || ndims < 1 || ndims > 4) {
                throw new ImageFileException(file + ": not an IDX file (magic 0x" + Integer.toHexString(magic) + ")");
            }
            if (type != 0x08) {
                throw new ImageFileException(file + ": IDX element type 0x" + Integer.toHexString(type) + " is not supported (unsigned bytes only)");
            }
            int[] dims = new int[ndims];
            long size = 1;
            for (int i = 0; i < ndims; i++) {
                dims[i] = data.readInt();
                if (dims[i] < 0) {
                    throw new ImageFileException(file + ": negative IDX dimension " + dims[i]);
                }
                size *= dims[i];
                if (size > MAX_BYTES) {
                    throw new ImageFileException(file + ": IDX dimensions " + Arrays.toString(Arrays.copyOf(dims, i + 1))
                            + " exceed " + MAX_BYTES + " bytes");
                }
            }
            byte[] bytes = new byte[(int) size];
            try {
                data.readFully(bytes);
            } catch (EOFException e) {
                throw new ImageFileException(file + ": truncated: dimensions " + Arrays.toString(dims) + " need " + size + " bytes");
            }
            return new IdxFile(file, dims, bytes);
        } catch (IOException e) {
            throw new ImageFileException(file + ": cannot read IDX: " + e.getMessage());
        }
    }

    public int count() {
        return dims[0];
    }

    /** Bytes per item (product of the dimensions after the first). */
    public int itemSize() {
        int n = 1;
        for (int i = 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** Item i's value at flat offset j, as 0..255. */
    public int get(int i, int j) {
        return data[i * itemSize() + j] & 0xff;
    }
}
