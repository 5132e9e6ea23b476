package maetok4j.tensor;

/** A tensor file that cannot be read or written; the message is one line naming the file and the problem. */
public final class TensorFileException extends RuntimeException {

    public TensorFileException(String message) {
        super(message);
    }

    public TensorFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
