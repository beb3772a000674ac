package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorSource;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.Map;

/**
 * Base weights with LoRA merged in, for deployment: an adapted linear layer's weight becomes
 * W + scale · B · A (PEFT's merge), computed while the model file is written, one tensor at a time.
 */
public final class MergedWeights implements WeightSource {
    /** One trained adapter: A [r, in], B [out, r], row-major. */
    public record Adapter(float[] a, float[] b, int r, double scale) {}

    private final FrozenWeights base;
    private final Map<String, Adapter> adaptersByModule;

    public MergedWeights(FrozenWeights base, Map<String, Adapter> adaptersByModule) {
        this.base = base;
        this.adaptersByModule = adaptersByModule;
    }

    @Override
    public TensorSource asIs(String name, DType dtype) {
        return base.asIs(name, dtype);
    }

    /** The merged weight in FLOAT: the deployment export is float32 (half-precision deployment is not built yet). */
    @Override
    public TensorSource transposed(String name, DType dtype) {
        String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : name;
        Adapter adapter = adaptersByModule.get(module);
        if (adapter == null) {
            return base.transposed(name, dtype);
        }
        if (dtype != DType.FLOAT) {
            throw new IllegalArgumentException("merged LoRA weights are written as FLOAT only, not " + dtype + " (" + name + ")");
        }
        long[] dims = base.transposed(name, dtype).dims();
        return new Merged(base.file(), name, dims[1], dims[0], adapter);
    }

    /** (W + scale · B A)^T as float32 [in, out]. */
    record Merged(SafetensorsFile file, String name, long out, long in, Adapter adapter) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.FLOAT;
        }

        @Override
        public long[] dims() {
            return new long[] {in, out};
        }

        @Override
        public void writeTo(FileChannel channel, long offset) throws IOException {
            float[] w = file.readFloat32(name);
            int rows = Math.toIntExact(out);
            int cols = Math.toIntExact(in);
            int r = adapter.r();
            if (adapter.a().length != r * cols || adapter.b().length != rows * r) {
                throw new IOException("adapter of " + name + " does not fit its weight [" + rows + ", " + cols + "]");
            }
            for (int o = 0; o < rows; o++) {
                for (int c = 0; c < cols; c++) {
                    double delta = 0;
                    for (int k = 0; k < r; k++) {
                        delta += (double) adapter.b()[o * r + k] * adapter.a()[k * cols + c];
                    }
                    w[o * cols + c] = (float) (w[o * cols + c] + adapter.scale() * delta);
                }
            }
            FrozenWeights.writeTransposed(channel, offset, w, rows, cols);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Merged m && m.file == file && m.name.equals(name) && m.adapter == adapter;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + 7;
        }
    }
}
