package dev.smoldpo.artifacts;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * Global gradient-norm clipping for the optimizer graph whose result does not depend on the order
 * of the gradient sequence, so that two runs with the same inputs are bit-identical.
 *
 * <p>ORT's training API hands the optimizer its parameters and gradients in the iteration order of
 * its parameter map, which it fills from a hash map while loading the checkpoint: that order changes
 * from one session to the next. ORT's own {@code InplaceClipGradNorm} adds up the tensors' squared
 * norms in sequence order, so its float32 total, and the clip coefficient, differ in their last
 * bits between sessions, and runs that clip drift apart. Here each tensor's squared norm is computed
 * on its own, the values are sorted (TopK over all of them) and then summed: the same multiset of
 * values gives the same sum in any order. The coefficient is torch's and ORT's,
 * {@code min(1, max_norm / (‖g‖ + 1e-6))}.
 */
final class GradientClipping {
    /** ORT's InplaceClipGradNorm and torch.nn.utils.clip_grad_norm_ add this to the norm. */
    static final double NORM_EPSILON = 1e-6;

    private GradientClipping() {}

    /**
     * The {@code count} gradients of {@code gradients} (a sequence) scaled together so that their
     * global L2 norm is at most {@code maxNorm}, as a new sequence in the same order.
     */
    static Value clip(Graph g, Value gradients, int count, double maxNorm) {
        if (count < 1) {
            throw new IllegalArgumentException("gradient clipping needs at least one parameter, got " + count);
        }
        List<Value> grads = new ArrayList<>(count);
        Value[] squaredNorms = new Value[count];
        for (int i = 0; i < count; i++) {
            Value grad = g.node("SequenceAt").in(gradients, g.constant(TensorData.longs(new long[0], i))).out();
            grads.add(grad);
            Value sum = g.node("ReduceSum").in(g.mul(grad, grad)).attr("keepdims", 0L).out();
            squaredNorms[i] = g.reshape(sum, 1);
        }
        Value all = count == 1 ? squaredNorms[0] : g.concat(0, squaredNorms);
        Value sorted = g.node("TopK").in(all, g.longs(count)).attr("largest", 1L).attr("sorted", 1L).outs(2).get(0);
        Value norm = g.unary("Sqrt", g.reduceSum(sorted, false));
        Value coefficient = g.node("Min").in(g.div(g.scalar(DType.FLOAT, maxNorm), g.add(norm, g.scalar(DType.FLOAT, NORM_EPSILON))),
                g.scalar(DType.FLOAT, 1.0)).out();
        Value[] clipped = new Value[count];
        for (int i = 0; i < count; i++) {
            clipped[i] = g.mul(grads.get(i), coefficient);
        }
        return g.node("SequenceConstruct").in(clipped).outputNames("clipped_gradients").out();
    }
}
