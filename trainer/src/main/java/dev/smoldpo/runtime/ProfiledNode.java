package dev.smoldpo.runtime;

import java.util.Arrays;
import java.util.List;

/**
 * One node as an ONNX Runtime profile saw it run: its name (after ORT's graph optimizations, so
 * fused nodes carry ORT's names), operator, the execution provider that ran it, and the element
 * type and shape of each input and output tensor.
 */
public record ProfiledNode(String name, String op, String provider, List<Tensor> inputs, List<Tensor> outputs) {
    public static final String CPU = "CPUExecutionProvider";

    /** A tensor as the profile writes it: ORT's element type name ("float", "int64", ...) and dims. */
    public record Tensor(String type, long[] shape) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public String toString() {
            return type + Arrays.toString(shape).replace(" ", "");
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && t.type.equals(type) && Arrays.equals(t.shape, shape);
        }

        @Override
        public int hashCode() {
            return type.hashCode() * 31 + Arrays.hashCode(shape);
        }
    }

    public boolean onCpu() {
        return CPU.equals(provider);
    }

    /** "MatMul 'name' float[2,8] float[8,4] -> float[2,4]". */
    public String describe() {
        return op + " '" + name + "' " + String.join(" ", inputs.stream().map(Tensor::toString).toList()) + " -> "
                + String.join(" ", outputs.stream().map(Tensor::toString).toList());
    }
}
