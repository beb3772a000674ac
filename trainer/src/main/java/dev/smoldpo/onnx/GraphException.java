package dev.smoldpo.onnx;

/** A malformed graph, reported when it is built: the message names the node or tensor at fault. */
public class GraphException extends RuntimeException {
    public GraphException(String message) {
        super(message);
    }
}
