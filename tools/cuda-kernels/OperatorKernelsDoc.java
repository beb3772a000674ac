import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CUDAExecutionProvider section of ORT's docs/OperatorKernels.md (domains ai.onnx and
 * com.microsoft): one row per op and version range, with the op's parameters ("or" alternatives,
 * one per schema version) and the types the kernel takes per type constraint.
 */
final class OperatorKernelsDoc {
    private OperatorKernelsDoc() {}

    private static final Pattern DOMAIN_ROW = Pattern.compile("^\\|\\*\\*Operator Domain:\\*\\* \\*([^*]+)\\*\\|");
    private static final Pattern PARAM = Pattern.compile("\\*(in|out)\\*\\s+([^:]+):\\*\\*(.+?)\\*\\*");
    private static final Pattern CONSTRAINT = Pattern.compile("\\*\\*([^*]+)\\*\\*\\s*=\\s*(.*)");

    static List<Kernels.Kernel> parse(Path md) throws IOException {
        List<Kernels.Kernel> out = new ArrayList<>();
        boolean inCuda = false;
        String domain = null;
        String op = null;
        List<Kernels.Signature> signatures = null;
        for (String line : Files.readAllLines(md, StandardCharsets.UTF_8)) {
            if (line.startsWith("<a name=")) {
                inCuda = line.contains("\"cudaexecutionprovider\"");
                continue;
            }
            if (!inCuda || !line.startsWith("|")) {
                continue;
            }
            Matcher d = DOMAIN_ROW.matcher(line);
            if (d.find()) {
                domain = d.group(1);
                continue;
            }
            String[] cols = line.split("\\|", -1);
            if (cols.length < 6 || cols[3].isBlank() || cols[3].startsWith("-") || cols[1].trim().equals("Op Name")) {
                continue;
            }
            if (!cols[1].isEmpty()) {
                op = cols[1];
                signatures = parseSignatures(cols[2]);
            }
            if (!domain.equals("ai.onnx") && !domain.equals("com.microsoft")) {
                continue;
            }
            int[] range = parseRange(cols[3], line);
            out.add(new Kernels.Kernel(domain, op, range[0], range[1], signatures, parseConstraints(cols[4]), "OperatorKernels.md"));
        }
        if (out.isEmpty()) {
            throw new IllegalStateException(md + ": no CUDAExecutionProvider rows found");
        }
        return out;
    }

    private static List<Kernels.Signature> parseSignatures(String cell) {
        List<Kernels.Signature> out = new ArrayList<>();
        for (String alt : cell.split("<br><br>or<br><br>")) {
            List<Kernels.Param> in = new ArrayList<>();
            List<Kernels.Param> outs = new ArrayList<>();
            Matcher m = PARAM.matcher(alt);
            while (m.find()) {
                (m.group(1).equals("in") ? in : outs).add(new Kernels.Param(m.group(2).trim(), m.group(3).trim()));
            }
            out.add(new Kernels.Signature(in, outs));
        }
        return out;
    }

    private static int[] parseRange(String cell, String line) {
        String v = cell.trim();
        if (v.endsWith("+")) {
            return new int[] {Integer.parseInt(v.substring(0, v.length() - 1)), Integer.MAX_VALUE};
        }
        if (v.startsWith("[")) {
            String[] p = v.substring(1, v.length() - 1).split(",");
            return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
        }
        try {
            int one = Integer.parseInt(v);
            return new int[] {one, one};
        } catch (NumberFormatException e) {
            throw new IllegalStateException("unreadable version '" + v + "' in: " + line);
        }
    }

    private static Map<String, List<String>> parseConstraints(String cell) {
        Map<String, List<String>> out = new TreeMap<>();
        for (String part : cell.split("<br/>")) {
            Matcher m = CONSTRAINT.matcher(part.trim());
            if (m.find()) {
                List<String> types = new ArrayList<>();
                for (String t : m.group(2).split(",\\s+")) {
                    types.add(t.trim());
                }
                out.put(m.group(1), types);
            }
        }
        return out;
    }
}
