package dev.smoldpo.artifacts;

import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;

/**
 * A model whose training artifacts we build. {@link #build} is called once per graph (training and
 * eval), each time on a fresh {@link Graph}, and must build the same forward pass each time.
 */
public interface ModelDefinition {
    /** The loss (first output) and the extra user outputs of the forward pass. */
    record Forward(Value loss, List<Value> outputs) {}

    /** The trainable tensors, in checkpoint order. */
    List<Parameter> trainableParameters();

    /**
     * Declares the user inputs on {@code graph} and builds the forward pass, using {@code trainable}
     * (already declared graph inputs, by parameter name) for the trainable tensors. Frozen weights
     * are initializers; give the same name the same contents each call.
     */
    Forward build(Graph graph, Map<String, Value> trainable);

    /**
     * As {@link #build(Graph, Map)}, told whether this is the training graph (where dropout is
     * active) or the eval graph. Models without dropout need not override it.
     */
    default Forward build(Graph graph, Map<String, Value> trainable, boolean training) {
        return build(graph, trainable);
    }
}
