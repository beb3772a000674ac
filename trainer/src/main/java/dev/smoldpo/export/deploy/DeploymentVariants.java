package dev.smoldpo.export.deploy;

import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.onnx.quant.DtypePasses;
import dev.smoldpo.onnx.quant.WeightQuantizationPass;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which precisions a deployment is written in, and the writing: each graph once per precision as
 * {@code onnx/<graph><suffix>.onnx} with its external data next to it ({@code .onnx_data}), named as
 * transformers.js looks for them (src/utils/dtypes.js, src/utils/model-loader.js).
 *
 * @param precisions in the order given, at least one
 * @param blockSize  weights per scale of the 4-bit weights (and of the quantized embedding tables)
 */
public record DeploymentVariants(Set<DeploymentDtype> precisions, int blockSize) {
    public static final DeploymentVariants FP32 = new DeploymentVariants(Set.of(DeploymentDtype.FP32), DtypePasses.DEFAULT_BLOCK_SIZE);

    public DeploymentVariants {
        if (precisions.isEmpty()) {
            throw new IllegalArgumentException("no dtype to export");
        }
        if (blockSize < WeightQuantizationPass.MIN_BLOCK || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size " + blockSize + ": MatMulNBits and GatherBlockQuantized take a power of "
                    + "two of at least " + WeightQuantizationPass.MIN_BLOCK);
        }
        precisions = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(precisions));
    }

    /** "fp32,q4" (transformers.js' names, comma-separated) with the given block size. */
    public static DeploymentVariants parse(String dtypes, int blockSize) {
        Set<DeploymentDtype> set = new LinkedHashSet<>();
        for (String part : dtypes.split(",")) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("--dtype '" + dtypes + "' has an empty entry");
            }
            set.add(DeploymentDtype.of(part));
        }
        return new DeploymentVariants(set, blockSize);
    }

    /** The precision transformers.js loads when not told: float32 when written, else the first. */
    public DeploymentDtype defaultPrecision() {
        return precisions.contains(DeploymentDtype.FP32) ? DeploymentDtype.FP32 : precisions.iterator().next();
    }

    /**
     * Writes {@code fp32} in every precision into {@code onnxDir}; its float inputs named in
     * {@code cacheInputs} and outputs in {@code cacheOutputs} (the key/value cache) take the compute type.
     * Returns the file names written.
     */
    List<String> write(Graph fp32, Path onnxDir, Set<String> cacheInputs, Set<String> cacheOutputs) {
        List<String> files = new java.util.ArrayList<>();
        for (DeploymentDtype p : precisions) {
            Graph g = DtypePasses.apply(fp32, p, blockSize, cacheInputs, cacheOutputs);
            String file = p.fileName(fp32.name());
            try (SharedWeights data = new SharedWeights(onnxDir.resolve(file + "_data"))) {
                ModelWriter.write(g, onnxDir.resolve(file), data);
            }
            files.add(file);
        }
        return files;
    }

    /** Names of {@code values} that start with {@code prefix}. */
    static Set<String> named(List<Value> values, String prefix) {
        Set<String> out = new LinkedHashSet<>();
        for (Value v : values) {
            if (v.name().startsWith(prefix)) {
                out.add(v.name());
            }
        }
        return out;
    }
}
