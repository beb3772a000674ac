package dev.smoldpo.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.hf.Bf16;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The graph builder type-checks graphs that mix float32 with bfloat16/float16: every op's inputs must
 * have the types the op takes, and the message names the node, the tensors and their types, so a
 * missing Cast is found when the graph is built, not by ONNX Runtime on a GPU machine.
 */
class MixedPrecisionTypeCheckTest {
    private static final DType BF16 = DType.BFLOAT16;

    private static void assertFails(String expectedPart, Runnable build) {
        GraphException e = assertThrows(GraphException.class, build::run);
        assertTrue(e.getMessage().contains(expectedPart), e.getMessage());
    }

    @Test
    void matMulAndElementwiseOpsNeedOneType() {
        Graph g = new Graph("mixed");
        Value x = g.input("x", BF16, Shape.of("rows", 4));
        Value w = g.input("w_float", DType.FLOAT, Shape.of(4, 3));
        assertFails("'x' is BFLOAT16 but 'w_float' is FLOAT", () -> g.matMul(x, w));
        Value bias = g.input("bias_float", DType.FLOAT, Shape.of(4));
        assertFails("'x' is BFLOAT16 but 'bias_float' is FLOAT", () -> g.add(x, bias));
        assertEquals(BF16, g.matMul(x, g.cast(w, BF16)).dtype(), "a Cast makes it well typed");
    }

    @Test
    void layerNormTakesScaleAndBiasOfItsInputTypeAndStashesStatisticsInFloat() {
        Graph g = new Graph("ln");
        Value x = g.input("x", BF16, Shape.of("rows", 4));
        Value scale = g.input("scale", DType.FLOAT, Shape.of(4));
        Value bias = g.input("bias", DType.FLOAT, Shape.of(4));
        assertFails("'x' is BFLOAT16 but 'scale' is FLOAT",
                () -> g.node("LayerNormalization").in(x, scale, bias).attr("axis", -1L).out());
        List<Value> outs = g.node("LayerNormalization").in(x, g.cast(scale, BF16), g.cast(bias, BF16)).attr("axis", -1L).outs(3);
        assertEquals(BF16, outs.get(0).dtype());
        assertEquals(DType.FLOAT, outs.get(1).dtype(), "Mean is of stash_type, FLOAT by default (ONNX opset 17)");
        assertEquals(DType.FLOAT, outs.get(2).dtype(), "InvStdDev too");
    }

    @Test
    void transcendentalOpsTakeFloatingTypesOnly() {
        Graph g = new Graph("ints");
        Value ids = g.input("ids", DType.INT64, Shape.of(3));
        assertFails("input 'ids' is INT64; the op takes floating types only", () -> g.softmax(ids, -1));
        assertFails("input 'ids' is INT64; the op takes floating types only", () -> g.unary("Sqrt", ids));
        assertFails("input 'ids' is INT64; the op takes floating types only", () -> g.msNode("FastGelu").in(ids).out());
        assertFails("must be BOOL, not INT64", () -> g.unary("Not", ids));
    }

    @Test
    void castNeedsAKnownTargetType() {
        Graph g = new Graph("cast");
        Value x = g.input("x", DType.FLOAT, Shape.of(3));
        assertFails("'to' = 99 is not an element type", () -> g.node("Cast").in(x).attr("to", 99L).out());
        assertFails("'to' = -1 is not an element type", () -> g.node("Cast").in(x).out());
    }

    @Test
    void dropoutTakesAFloatRatioForHalfPrecisionData() {
        Graph g = new Graph("dropout");
        Value x = g.input("x", BF16, Shape.of(2, 3));
        List<Value> outs = g.dropout(x, 0.1, g.constant(TensorData.bools(new long[0], true)), 1);
        assertEquals(BF16, outs.get(0).dtype());
        assertEquals(DType.FLOAT, outs.get(0).producer().input(1).dtype(), "ONNX's T1 may differ from T");
        assertFails("must be BOOL", () -> g.node("Dropout").in(x, g.scalar(DType.FLOAT, 0.1), g.scalar(DType.FLOAT, 1)).out());
    }

    @Test
    void gradientAccumulatorsTakeGradientsOfTheirBuffersType() {
        Graph g = new Graph("accumulate");
        Value buffer = g.input("w_grad.accumulation.buffer", DType.FLOAT, Shape.of(2, 3));
        Value gradient = g.input("grad_bf16", BF16, Shape.of(2, 3));
        Value reset = g.input("lazy_reset_grad", DType.BOOL, Shape.of(1));
        assertFails("gradient 'grad_bf16' is BFLOAT16 but its accumulation buffer 'w_grad.accumulation.buffer' is FLOAT",
                () -> g.msNode("InPlaceAccumulatorV2").in(buffer, gradient, reset).out());
        g.msNode("InPlaceAccumulatorV2").in(buffer, g.cast(gradient, DType.FLOAT), reset).out();
    }

    @Test
    void halfPrecisionScalarConstantsRoundToNearest() {
        TensorData third = TensorData.scalar(BF16, 1.0 / 3);
        assertEquals(BF16, third.dtype());
        assertArrayEquals(new float[] {Bf16.toFloat(Bf16.fromFloat(1f / 3))}, third.widenToFloats());
        assertEquals(0.333251953125f, TensorData.scalar(DType.FLOAT16, 1.0 / 3).widenToFloats()[0], "float16's 11 bits");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorData.scalar(DType.FLOAT16, -1e9));
        assertTrue(e.getMessage().contains("outside FLOAT16's range"), e.getMessage());
        assertEquals(-1e9f, TensorData.scalar(BF16, -1e9).widenToFloats()[0], 1e9 * 0.004, "bfloat16 has float32's range");
    }
}
