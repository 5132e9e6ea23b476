package maetok4j.data;

/** An image or dataset file that cannot be used; the message is one line naming the file and the problem. */
public final class ImageFileException extends RuntimeException {

    public ImageFileException(String message) {
        super(message);
    }

    public ImageFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
