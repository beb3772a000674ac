import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The training kernels of orttraining/orttraining/training_ops/cuda: the ONNX_OPERATOR_*KERNEL_EX
 * registrations of its .cc files (after expanding each file's own macros) with their
 * .TypeConstraint(...) lists, the ones cuda_training_kernels.cc registers, and the parameters of
 * the training ops from orttraining/orttraining/core/graph/training_op_defs.cc.
 */
final class TrainingKernelSources {
    private TrainingKernelSources() {}

    /** "domain op since until" of every BuildKernelCreateInfo in cuda_training_kernels.cc's table. */
    static Set<String> registered(Path file) throws IOException {
        Set<String> out = new TreeSet<>();
        Matcher m = Pattern.compile("BuildKernelCreateInfo<ONNX_OPERATOR_(VERSIONED_)?(TYPED_|TWO_TYPED_)?KERNEL_CLASS_NAME\\(([^)]*)\\)>")
                .matcher(Files.readString(file));
        while (m.find()) {
            String[] a = m.group(3).split(",");
            for (int i = 0; i < a.length; i++) {
                a[i] = a[i].trim();
            }
            String domain = a[1].equals("kMSDomain") ? "com.microsoft" : a[1].equals("kOnnxDomain") ? "ai.onnx" : a[1];
            boolean versioned = m.group(1) != null;
            String until = versioned ? a[3] : Integer.toString(Integer.MAX_VALUE);
            out.add(domain + " " + a[a.length - 1] + " " + a[2] + " " + until);
        }
        return out;
    }

    private static final Pattern KERNEL_EX = Pattern.compile("ONNX_OPERATOR_(VERSIONED_)?(TYPED_|TWO_TYPED_)?KERNEL_EX\\s*\\(");
    private static final Pattern TYPE_CONSTRAINT = Pattern.compile("\\.TypeConstraint\\(\\s*\"([^\"]+)\"\\s*,");

    static List<Kernels.Kernel> parse(Path dir, Map<String, Kernels.Signature> schemas, List<Kernels.Kernel> doc) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> p.toString().endsWith(".cc")).sorted().toList();
        }
        List<Kernels.Kernel> out = new ArrayList<>();
        for (Path f : files) {
            String text = CppMacros.expand(Files.readString(f));
            Matcher m = KERNEL_EX.matcher(text);
            while (m.find()) {
                List<String> args = CppMacros.topLevelArgs(text, m.end() - 1);
                if (args.size() < 5) {
                    continue;
                }
                boolean versioned = m.group(1) != null;
                boolean typed = m.group(2) != null;
                String op = args.get(0);
                String domain = switch (args.get(1)) {
                    case "kMSDomain" -> "com.microsoft";
                    case "kOnnxDomain" -> "ai.onnx";
                    default -> null;
                };
                int i = 2;
                if (domain == null || !op.matches("[A-Za-z0-9_]+")) {
                    continue; // a macro's own parameters (unexpanded definition text)
                }
                int since = Integer.parseInt(args.get(i++));
                int until = versioned ? Integer.parseInt(args.get(i++)) : Integer.MAX_VALUE;
                if (typed) {
                    i++; // the type suffix: the constraints below say the same in full
                }
                if (!args.get(i++).equals("kCudaExecutionProvider")) {
                    continue;
                }
                String builder = args.get(i);
                Map<String, List<String>> constraints = new TreeMap<>();
                Matcher c = TYPE_CONSTRAINT.matcher(builder);
                while (c.find()) {
                    List<String> a = CppMacros.topLevelArgs(builder, c.start() + c.group(0).indexOf('('));
                    constraints.put(c.group(1), typeExpression(a.get(1), f, op));
                }
                Kernels.Signature sig = schemas.get(domain + " " + op);
                List<Kernels.Signature> signatures = sig != null ? List.of(sig) : docSignatures(doc, domain, op);
                if (signatures == null) {
                    System.err.println("note: no parameters known for training kernel " + domain + " " + op + " (left out)");
                    continue;
                }
                out.add(new Kernels.Kernel(domain, op, since, until, signatures, constraints,
                        "orttraining/" + dir.relativize(f).toString().replace('\\', '/')));
            }
        }
        return out;
    }

    private static List<Kernels.Signature> docSignatures(List<Kernels.Kernel> doc, String domain, String op) {
        return doc.stream().filter(k -> k.domain().equals(domain) && k.op().equals(op)).map(Kernels.Kernel::signatures).findFirst().orElse(null);
    }

    /** The ONNX types a TypeConstraint argument allows, per ORT's data_types.cc and element_type_lists.h. */
    private static List<String> typeExpression(String expr, Path file, String op) {
        List<String> out = new ArrayList<>();
        String e = expr.replaceAll("\\s+", "");
        if (e.contains("AllFixedSizeSequenceTensorTypes()")) {
            Kernels.FIXED_SIZE.forEach(t -> out.add("seq(tensor(" + t + "))"));
        } else if (e.contains("AllTensorAndSequenceTensorTypes()")) {
            Kernels.FIXED_SIZE.forEach(t -> out.add("tensor(" + t + ")"));
            out.add("tensor(string)");
            Kernels.FIXED_SIZE.forEach(t -> out.add("seq(tensor(" + t + "))"));
            out.add("seq(tensor(string))");
        } else if (e.contains("AllTensorTypes()")) {
            Kernels.FIXED_SIZE.forEach(t -> out.add("tensor(" + t + ")"));
            out.add("tensor(string)");
        } else if (e.contains("AllFixedSizeTensorTypes()")) {
            Kernels.FIXED_SIZE.forEach(t -> out.add("tensor(" + t + ")"));
        } else if (e.contains("AllIEEEFloatTensorTypes()")) {
            Kernels.IEEE_FLOAT.forEach(t -> out.add("tensor(" + t + ")"));
        } else if (e.contains("BuildKernelDefConstraints<")) {
            String list = e.substring(e.indexOf('<') + 1, e.lastIndexOf('>'));
            for (String t : list.split(",")) {
                out.add("tensor(" + onnxType(t, file, op) + ")");
            }
        } else {
            Matcher m = Pattern.compile("GetTensorType<([^>]+)>\\(\\)").matcher(e);
            while (m.find()) {
                out.add("tensor(" + onnxType(m.group(1), file, op) + ")");
            }
        }
        if (out.isEmpty()) {
            out.add("unparsed:" + e);
            System.err.println("note: " + file + " " + op + ": type constraint '" + e + "' not understood (kept as unparsed)");
        }
        return out;
    }

    private static String onnxType(String cpp, Path file, String op) {
        String t = Kernels.CPP_TYPES.get(cpp.trim());
        if (t == null) {
            System.err.println("note: " + file + " " + op + ": element type '" + cpp + "' not understood");
            return "unparsed:" + cpp.trim();
        }
        return t;
    }

    private static final Pattern SCHEMA = Pattern.compile("ONNX_CONTRIB_OPERATOR_SCHEMA\\(\\s*([A-Za-z0-9_]+)\\s*\\)");
    private static final Pattern IO = Pattern.compile(
            "\\.(Input|Output)\\(\\s*(\\d+)\\s*,\\s*\"([^\"]*)\"\\s*,(?:\\s*\"(?:[^\"\\\\]|\\\\.)*\")+\\s*,\\s*\"([^\"]*)\"");

    /** "domain op" → the parameters of each ONNX_CONTRIB_OPERATOR_SCHEMA in training_op_defs.cc. */
    static Map<String, Kernels.Signature> parseSchemas(Path defs) throws IOException {
        String text = Files.readString(defs);
        Map<String, Kernels.Signature> out = new TreeMap<>();
        Matcher m = SCHEMA.matcher(text);
        List<Integer> starts = new ArrayList<>();
        List<String> names = new ArrayList<>();
        while (m.find()) {
            starts.add(m.start());
            names.add(m.group(1));
        }
        for (int i = 0; i < names.size(); i++) {
            int from = starts.get(i);
            int to = i + 1 < starts.size() ? starts.get(i + 1) : text.length();
            String block = text.substring(from, to);
            String domain = block.contains(".SetDomain(kMSDomain)") ? "com.microsoft" : block.contains(".SetDomain(kOnnxDomain)") ? "ai.onnx" : null;
            if (domain == null) {
                continue;
            }
            TreeMap<Integer, Kernels.Param> in = new TreeMap<>();
            TreeMap<Integer, Kernels.Param> outs = new TreeMap<>();
            Matcher io = IO.matcher(block);
            while (io.find()) {
                (io.group(1).equals("Input") ? in : outs).put(Integer.parseInt(io.group(2)), new Kernels.Param(io.group(3), io.group(4)));
            }
            out.put(domain + " " + names.get(i), new Kernels.Signature(new ArrayList<>(in.values()), new ArrayList<>(outs.values())));
        }
        return out;
    }
}
