package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.Value;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Quantizes the weights of a float32 graph: every MatMul over a constant [K, N] weight (the linear
 * layers, the patch embedding, the language-model head) and every Gather from a constant [rows, width]
 * table (token and position embeddings) becomes its quantized com.microsoft op; activations stay as
 * they are.
 *
 * <ul>
 *   <li>8 bits: DynamicQuantizeMatMul (ORT quantizes the activations to uint8 at run time), each output
 *       column of B with its own scale and zero point; tables 8-bit in blocks (GatherBlockQuantized).</li>
 *   <li>4 bits: MatMulNBits with one scale and zero point per {@code blockSize} weights along K;
 *       tables 4-bit in blocks.</li>
 * </ul>
 * A table whose width has no power-of-two block of at least 16 (GatherBlockQuantized's minimum) is
 * left as it is.
 */
public final class WeightQuantizationPass {
    /** GatherBlockQuantized and MatMulNBits take power-of-two blocks of at least 16. */
    public static final int MIN_BLOCK = 16;

    private final int bits;
    private final int blockSize;
    private final boolean halfScales;
    private final GraphRebuilder b;
    private final Map<Value, List<Value>> declared = new HashMap<>();

    private WeightQuantizationPass(Graph source, int bits, int blockSize, boolean halfScales) {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("weights are quantized to 4 or 8 bits, not " + bits);
        }
        if (blockSize < MIN_BLOCK || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("the block size must be a power of two of at least " + MIN_BLOCK + ", not "
                    + blockSize);
        }
        this.bits = bits;
        this.blockSize = blockSize;
        this.halfScales = halfScales;
        this.b = new GraphRebuilder(source);
    }

    /**
     * The graph with quantized weights.
     *
     * @param halfScales round the scales to float16 values (for a graph that will compute in float16)
     */
    public static Graph apply(Graph source, int bits, int blockSize, boolean halfScales) {
        return new WeightQuantizationPass(source, bits, blockSize, halfScales).run();
    }

    private Graph run() {
        for (Value in : b.source().inputs()) {
            b.input(in, in.dtype());
        }
        for (Node n : b.source().nodes()) {
            if (n.domain().isEmpty() && n.opType().equals("MatMul") && isWeight(n.input(1)) && n.input(0).dtype() == DType.FLOAT) {
                linear(n);
            } else if (n.domain().isEmpty() && n.opType().equals("Gather") && n.longAttr("axis", 0) == 0
                    && isWeight(n.input(0)) && tableBlock(n.input(0)) > 0) {
                embedding(n);
            } else {
                b.copy(n);
            }
        }
        return b.finish();
    }

    private static boolean isWeight(Value v) {
        return v.kind() == Value.Kind.INITIALIZER && v.dtype() == DType.FLOAT && v.shape().isFullyFixed() && v.rank() == 2;
    }

    private void linear(Node n) {
        Value weight = n.input(1);
        long k = weight.shape().dim(0).value();
        long cols = weight.shape().dim(1).value();
        Value a = b.get(n.input(0));
        String out = n.output(0).name();
        Value y;
        if (bits == 8) {
            List<Value> w = initializers(weight, () -> QuantizedInitializers.perColumn8Bit(weight.name(), weight.source()), "q8");
            y = b.target().msNode("DynamicQuantizeMatMul").in(a, w.get(0), w.get(1), w.get(2)).named(n.name())
                    .outputNames(out).out();
        } else {
            List<Value> w = initializers(weight, () -> QuantizedInitializers.matMulNBits(weight.name(), weight.source(), bits,
                    blockSize, halfScales), "q" + bits);
            y = b.target().msNode("MatMulNBits").in(a, w.get(0), w.get(1), w.get(2)).attr("K", k).attr("N", cols)
                    .attr("bits", (long) bits).attr("block_size", (long) blockSize).named(n.name()).outputNames(out).out();
        }
        b.map(n.output(0), y);
    }

    private void embedding(Node n) {
        Value table = n.input(0);
        int block = tableBlock(table);
        List<Value> t = initializers(table, () -> QuantizedInitializers.gatherTable(table.name(), table.source(), bits, block,
                halfScales), "q" + bits);
        Value y = b.target().msNode("GatherBlockQuantized").in(t.get(0), b.get(n.input(1)), t.get(1), t.get(2))
                .attr("gather_axis", 0L).attr("quantize_axis", 1L).attr("block_size", (long) block).attr("bits", (long) bits)
                .named(n.name()).outputNames(n.output(0).name()).out();
        b.map(n.output(0), y);
    }

    /** The configured block size if it divides the table's width, else the largest power of two >= 16 that does; 0 if none. */
    private int tableBlock(Value table) {
        long width = table.shape().dim(1).value();
        for (int block = blockSize; block >= MIN_BLOCK; block /= 2) {
            if (width % block == 0 && (width * bits) % 8 == 0) {
                return block;
            }
        }
        return 0;
    }

    /** The quantized initializers of {@code weight}, declared once even when several nodes use it. */
    private List<Value> initializers(Value weight, Supplier<QuantizedInitializers.Parts> quantize, String tag) {
        return declared.computeIfAbsent(weight, w -> {
            QuantizedInitializers.Parts parts = quantize.get();
            return List.of(
                    b.target().initializer(b.name(w.name(), tag), parts.values()),
                    b.target().initializer(b.name(w.name(), "scales"), parts.scales()),
                    b.target().initializer(b.name(w.name(), "zero_points"), parts.zeroPoints()));
        });
    }
}
