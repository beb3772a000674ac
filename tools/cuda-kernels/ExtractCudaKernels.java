import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Extracts ONNX Runtime's CUDA kernel registrations into the table the kernel-coverage test reads
 * (trainer/src/test/resources/ort-1.28-cuda-kernels.tsv). Run by tools/extract-cuda-kernels.sh, a
 * multi-file source program (JDK 22 or later runs it with the other classes of this folder);
 * regenerating is a manual step when the ORT version changes, never part of the build.
 *
 * <p>Sources, all read from an onnxruntime checkout:
 * <ul>
 *   <li>docs/OperatorKernels.md, the "CUDAExecutionProvider" section ({@link OperatorKernelsDoc}).
 *       ORT generates that file from an inference build, so it lacks the training kernels;</li>
 *   <li>orttraining/orttraining/training_ops/cuda/**.cc and
 *       orttraining/orttraining/core/graph/training_op_defs.cc: the training kernels
 *       ({@link TrainingKernelSources}), where the file does not already describe the kernel;</li>
 * </ul>
 * and the CUDA provider library of the release we run ({@link ProviderBinary}). Every row must be a
 * kernel that binary defines, or the tool fails and writes nothing: a table written from sources of
 * another version cannot describe the binary. The binary's typed kernel names are also compared
 * with the rows' types (a note where they disagree), and the kernels it defines that no source
 * describes are listed.
 *
 * <p>Output: one line per kernel version range,
 * {@code domain op since until signatures constraints source}, where until is {@code *} for an
 * open range, signatures are {@code in:C,in:C->out:C} alternatives separated by {@code " || "} (C
 * a constraint name or a literal type such as tensor(int64)), and constraints are
 * {@code C=type|type;C=...}.
 */
public final class ExtractCudaKernels {
    private ExtractCudaKernels() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: java ExtractCudaKernels.java ONNXRUNTIME_CHECKOUT PROVIDERS_CUDA_SO OUT_TSV 'SOURCE NOTE'");
            System.exit(2);
        }
        Path ort = Path.of(args[0]);
        Path so = Path.of(args[1]);
        Path out = Path.of(args[2]);
        String note = args[3];

        List<Kernels.Kernel> doc = OperatorKernelsDoc.parse(ort.resolve("docs/OperatorKernels.md"));
        Map<String, ProviderBinary.BinaryKernel> binary = new TreeMap<>();
        for (ProviderBinary.BinaryKernel b : ProviderBinary.parse(so)) {
            binary.merge(b.key() + " " + b.types(), b, (x, y) -> x);
        }
        Set<String> binaryKeys = new TreeSet<>();
        binary.values().forEach(b -> binaryKeys.add(b.key()));

        List<String> problems = new ArrayList<>();
        Set<String> docKeys = new TreeSet<>();
        for (Kernels.Kernel k : doc) {
            docKeys.add(k.key());
            if (!binaryKeys.contains(k.key())) {
                problems.add("OperatorKernels.md lists " + k.key() + " but the binary has no such kernel");
            }
        }
        Map<String, Kernels.Signature> trainingSchemas = TrainingKernelSources.parseSchemas(ort.resolve("orttraining/orttraining/core/graph/training_op_defs.cc"));
        Path trainingOps = ort.resolve("orttraining/orttraining/training_ops/cuda");
        Set<String> trainingTable = TrainingKernelSources.registered(trainingOps.resolve("cuda_training_kernels.cc"));
        List<Kernels.Kernel> training = new ArrayList<>();
        for (Kernels.Kernel k : TrainingKernelSources.parse(trainingOps, trainingSchemas, doc)) {
            if (docKeys.contains(k.key())) {
                continue; // the inference build registers it too: OperatorKernels.md's row describes it
            }
            if (!trainingTable.contains(k.key())) {
                System.err.println("note: " + k.source() + " defines " + k.key() + ", which cuda_training_kernels.cc does not register (left out)");
                continue;
            }
            if (!binaryKeys.contains(k.key())) {
                System.err.println("note: training source registers " + k.key() + ", which the binary lacks (left out)");
                continue;
            }
            training.add(k);
        }
        List<Kernels.Kernel> all = new ArrayList<>(doc);
        all.addAll(training);
        checkBinaryTypes(all, binary.values());

        Set<String> described = new TreeSet<>();
        all.forEach(k -> described.add(k.key()));
        int undescribed = 0;
        for (String key : binaryKeys) {
            if (!described.contains(key) && !key.startsWith("com.ms.internal.nhwc") && !key.startsWith("ai.onnx.ml")) {
                System.err.println("note: the binary registers " + key + ", which no source describes (left out)");
                undescribed++;
            }
        }
        if (!problems.isEmpty()) {
            problems.forEach(p -> System.err.println("error: " + p));
            System.err.println(problems.size() + " disagreement(s) between the sources and the binary: nothing written");
            System.exit(1);
        }
        all.sort((a, b) -> (a.domain() + " " + a.op() + String.format(" %03d", a.since()))
                .compareTo(b.domain() + " " + b.op() + String.format(" %03d", b.since())));
        write(out, all, note);
        System.err.printf("wrote %s: %d kernels (%d from OperatorKernels.md, %d training), %d binary kernels left out%n",
                out, all.size(), doc.size(), training.size(), undescribed);
    }

    /**
     * The binary defines a kernel class per registered type (and sometimes for types its registration
     * table leaves out, so only this direction is checked): for a row whose kernel is typed in the
     * binary, the types of at least one of the row's constraints (the template parameter's) should all
     * be there. A note, not an error: a few kernels are templated on something else.
     */
    private static void checkBinaryTypes(List<Kernels.Kernel> rows, Iterable<ProviderBinary.BinaryKernel> binary) {
        Map<String, Set<String>> binaryTypes = new TreeMap<>();
        for (ProviderBinary.BinaryKernel b : binary) {
            if (!b.types().isEmpty()) {
                binaryTypes.computeIfAbsent(b.key(), x -> new TreeSet<>()).addAll(b.types());
            }
        }
        for (Kernels.Kernel k : rows) {
            Set<String> defined = binaryTypes.get(k.key());
            if (defined == null || k.constraints().isEmpty()) {
                continue;
            }
            boolean one = k.constraints().values().stream().anyMatch(types -> types.stream()
                    .allMatch(t -> defined.contains(t.replaceAll("^(seq\\()?tensor\\(|\\)+$", ""))));
            if (!one) {
                // e.g. a kernel templated on something other than a constraint (Slice 1-9 on its index type)
                System.err.println("note: " + k.key() + ": no constraint of the row " + k.constraints()
                        + " has all its types among the binary's typed kernels " + defined);
            }
        }
    }

    private static void write(Path out, List<Kernels.Kernel> kernels, String note) throws IOException {
        Files.createDirectories(out.toAbsolutePath().getParent());
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out, StandardCharsets.UTF_8))) {
            w.println("# ONNX Runtime CUDAExecutionProvider kernels (domains ai.onnx and com.microsoft), generated by");
            w.println("# tools/extract-cuda-kernels.sh (tools/cuda-kernels/ExtractCudaKernels.java); do not edit by hand.");
            for (String line : note.split("\n")) {
                w.println("# " + line);
            }
            w.println("# Columns: domain, op, since, until (* = open), signatures (in:C,...->out:C,... alternatives joined by ' || '),");
            w.println("# constraints (C=type|type;...), source file.");
            w.println("domain\top\tsince\tuntil\tsignatures\tconstraints\tsource");
            for (Kernels.Kernel k : kernels) {
                List<String> sigs = k.signatures().stream().map(Kernels.Signature::text).toList();
                List<String> cons = new ArrayList<>();
                k.constraints().forEach((name, types) -> cons.add(name + "=" + String.join("|", types)));
                w.println(String.join("\t", k.domain(), k.op(), Integer.toString(k.since()),
                        k.until() == Integer.MAX_VALUE ? "*" : Integer.toString(k.until()), String.join(" || ", sigs),
                        String.join(";", cons), k.source()));
            }
        }
    }
}
