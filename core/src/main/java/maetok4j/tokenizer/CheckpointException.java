package maetok4j.tokenizer;

/** A checkpoint folder that cannot be used; the message is one line naming the file and the problem. */
public final class CheckpointException extends RuntimeException {

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
