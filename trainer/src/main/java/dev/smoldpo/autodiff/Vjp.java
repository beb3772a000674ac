package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.Value;
import java.util.List;

/**
 * A vector-Jacobian product rule for one op: given the gradients of the loss with respect to the
 * node's outputs, emit nodes computing the gradients with respect to its inputs.
 */
@FunctionalInterface
public interface Vjp {
    /**
     * @return one entry per node input: its gradient, or null where no gradient is needed or the
     *     input is not differentiable. Every returned gradient has its input's shape.
     */
    List<Value> apply(VjpContext ctx);
}
