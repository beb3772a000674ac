package dev.smoldpo.kernels;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime 1.28's CUDA kernels as tools/extract-cuda-kernels.sh wrote them into
 * ort-1.28-cuda-kernels.tsv, and the question the coverage test asks of each node: does a CUDA
 * kernel take it, or would ORT place it on the CPU?
 *
 * <p>A kernel takes a node when its version range holds the model's opset for the node's domain and
 * each input and output type is one the kernel allows at that position. Positions map to
 * type-constraint names through the op's parameters; OperatorKernels.md lists the parameters of
 * every schema version of an op ("or" alternatives), so a node must fit one alternative. Of those,
 * the alternatives whose constraint names the kernel row all defines are preferred (a name the row
 * does not define belongs to another schema version's parameters); a constraint the kernel leaves
 * open allows any type, as in ORT. Extra inputs of a variadic op (Concat, Sum, SequenceConstruct)
 * take the last parameter's constraint.
 */
final class CudaKernelTable {
    static final String RESOURCE = "/ort-1.28-cuda-kernels.tsv";

    record Param(String name, String type) {}

    record Signature(List<Param> inputs, List<Param> outputs) {}

    record Kernel(String domain, String op, int since, int until, List<Signature> signatures,
                  Map<String, List<String>> constraints, String source) {
        boolean covers(long opset) {
            return since <= opset && opset <= until;
        }

        String range() {
            return until == Integer.MAX_VALUE ? since + "+" : since == until ? Integer.toString(since) : "[" + since + ", " + until + "]";
        }
    }

    private final Map<String, List<Kernel>> byOp;

    private CudaKernelTable(Map<String, List<Kernel>> byOp) {
        this.byOp = byOp;
    }

    static CudaKernelTable load() {
        try (InputStream in = CudaKernelTable.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + RESOURCE + " is missing (tools/extract-cuda-kernels.sh writes it)");
            }
            return parse(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).lines().toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static CudaKernelTable parse(List<String> lines) {
        Map<String, List<Kernel>> byOp = new LinkedHashMap<>();
        boolean header = false;
        int lineNo = 0;
        for (String line : lines) {
            lineNo++;
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            String[] c = line.split("\t", -1);
            if (!header) {
                if (!line.equals("domain\top\tsince\tuntil\tsignatures\tconstraints\tsource")) {
                    throw new IllegalStateException(RESOURCE + " line " + lineNo + ": unexpected header '" + line + "'");
                }
                header = true;
                continue;
            }
            if (c.length != 7) {
                throw new IllegalStateException(RESOURCE + " line " + lineNo + ": " + c.length + " columns, expected 7");
            }
            Kernel k = new Kernel(c[0], c[1], Integer.parseInt(c[2]), c[3].equals("*") ? Integer.MAX_VALUE : Integer.parseInt(c[3]),
                    signatures(c[4]), constraints(c[5]), c[6]);
            byOp.computeIfAbsent(k.domain() + "::" + k.op(), x -> new ArrayList<>()).add(k);
        }
        if (byOp.isEmpty()) {
            throw new IllegalStateException(RESOURCE + " holds no kernels");
        }
        return new CudaKernelTable(byOp);
    }

    private static List<Signature> signatures(String cell) {
        List<Signature> out = new ArrayList<>();
        for (String alt : cell.split(" \\|\\| ")) {
            String[] io = alt.split("->", -1);
            out.add(new Signature(params(io[0]), params(io.length > 1 ? io[1] : "")));
        }
        return out;
    }

    private static List<Param> params(String list) {
        List<Param> out = new ArrayList<>();
        if (list.isEmpty()) {
            return out;
        }
        for (String p : list.split(",")) {
            int colon = p.indexOf(':');
            out.add(new Param(p.substring(0, colon), p.substring(colon + 1)));
        }
        return out;
    }

    private static Map<String, List<String>> constraints(String cell) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (cell.isEmpty()) {
            return out;
        }
        for (String c : cell.split(";")) {
            int eq = c.indexOf('=');
            out.put(c.substring(0, eq), Arrays.asList(c.substring(eq + 1).split("\\|")));
        }
        return out;
    }

    /** All kernels of an op, in any version. */
    List<Kernel> kernels(String domain, String op) {
        return byOp.getOrDefault(domain + "::" + op, List.of());
    }

    /** The first CUDA kernel that takes {@code node}, or null when none does. */
    Kernel kernelFor(NodeTypes.Node node) {
        return kernels(node.domain(), node.op()).stream().filter(k -> k.covers(node.opset()) && mismatch(k, node) == null)
                .findFirst().orElse(null);
    }

    /** Why no CUDA kernel takes {@code node}, or null when one does. */
    String gap(NodeTypes.Node node) {
        List<Kernel> all = kernels(node.domain(), node.op());
        if (all.isEmpty()) {
            return "CUDA has no kernel for " + node.domain() + "::" + node.op() + " at all";
        }
        List<Kernel> inRange = all.stream().filter(k -> k.covers(node.opset())).toList();
        if (inRange.isEmpty()) {
            return "CUDA has no kernel for opset " + node.opset() + " (its versions: "
                    + String.join(", ", all.stream().map(Kernel::range).toList()) + ")";
        }
        List<String> reasons = new ArrayList<>();
        for (Kernel k : inRange) {
            String why = mismatch(k, node);
            if (why == null) {
                return null;
            }
            reasons.add("kernel " + k.range() + " (" + k.source() + "): " + why);
        }
        return String.join("; ", reasons);
    }

    /** Why {@code k} does not take the node's types, or null when it does. */
    private static String mismatch(Kernel k, NodeTypes.Node node) {
        List<Signature> full = k.signatures().stream().filter(s -> definesAll(k, s)).toList();
        List<Signature> candidates = full.isEmpty() ? k.signatures() : full;
        String first = null;
        for (Signature s : candidates) {
            String why = mismatch(k, s.inputs(), node.inputs(), "input");
            if (why == null) {
                why = mismatch(k, s.outputs(), node.outputs(), "output");
            }
            if (why == null) {
                return null;
            }
            first = first == null ? why : first;
        }
        return first;
    }

    private static boolean definesAll(Kernel k, Signature s) {
        return java.util.stream.Stream.concat(s.inputs().stream(), s.outputs().stream())
                .allMatch(p -> isLiteral(p.type()) || k.constraints().containsKey(p.type()));
    }

    private static boolean isLiteral(String type) {
        return type.startsWith("tensor(") || type.startsWith("seq(");
    }

    private static String mismatch(Kernel k, List<Param> formals, List<String> actual, String what) {
        for (int i = 0; i < actual.size(); i++) {
            String type = actual.get(i);
            if (type == null) {
                continue; // an absent optional input
            }
            if (formals.isEmpty()) {
                return "takes no " + what + "s";
            }
            Param p = formals.get(Math.min(i, formals.size() - 1));
            if (isLiteral(p.type())) {
                if (!p.type().equals(type)) {
                    return what + " " + i + " ('" + p.name() + "') must be " + p.type() + ", is " + type;
                }
                continue;
            }
            List<String> allowed = k.constraints().get(p.type());
            if (allowed != null && !allowed.contains(type)) {
                return what + " " + i + " ('" + p.name() + "', constraint " + p.type() + ") is " + type
                        + ", which the kernel does not take (it takes " + String.join(", ", allowed) + ")";
            }
        }
        return null;
    }
}
