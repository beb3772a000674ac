import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernels libonnxruntime_providers_cuda.so defines, from its kernel class names
 * (kCudaExecutionProvider_Op_kDomain_verA[_B][_Type]). A name is there for every kernel the
 * registration tables list, and sometimes for a type they leave out (the kernel's .cc instantiates
 * it anyway), so the binary confirms rows, it does not replace the sources.
 */
final class ProviderBinary {
    private ProviderBinary() {}

    /** A kernel class name from the binary: until is MAX_VALUE for an open range; types in ONNX names (may be empty). */
    record BinaryKernel(String domain, String op, int since, int until, List<String> types, String symbol) {
        String key() {
            return domain + " " + op + " " + since + " " + until;
        }
    }

    private static final Pattern DOMAIN_TOKENS = Pattern.compile("^(.+?)_(kOnnxDomain|kMSDomain|kMSInternalNHWCDomain|kMLDomain)_ver(\\d+)(?:_(\\d+))?(?:_(.+))?$");

    static List<BinaryKernel> parse(Path so) throws IOException {
        String text = new String(Files.readAllBytes(so), StandardCharsets.ISO_8859_1);
        // Itanium-mangled names carry their length: "<len>kCudaExecutionProvider_...".
        Matcher m = Pattern.compile("(\\d+)(kCudaExecutionProvider_)").matcher(text);
        List<BinaryKernel> out = new ArrayList<>();
        while (m.find()) {
            int len = Integer.parseInt(m.group(1));
            int start = m.start(2);
            if (len < 30 || start + len > text.length()) {
                continue;
            }
            String name = text.substring(start + "kCudaExecutionProvider_".length(), start + len);
            Matcher k = DOMAIN_TOKENS.matcher(name);
            if (!k.matches()) {
                continue;
            }
            String domain = switch (k.group(2)) {
                case "kOnnxDomain" -> "ai.onnx";
                case "kMSDomain" -> "com.microsoft";
                case "kMSInternalNHWCDomain" -> "com.ms.internal.nhwc";
                default -> "ai.onnx.ml";
            };
            int since = Integer.parseInt(k.group(3));
            int until = k.group(4) == null ? Integer.MAX_VALUE : Integer.parseInt(k.group(4));
            out.add(new BinaryKernel(domain, k.group(1), since, until, cppTypeList(k.group(5)), name));
        }
        if (out.isEmpty()) {
            throw new IllegalStateException(so + " names no kCudaExecutionProvider kernels: not ORT's CUDA provider library?");
        }
        return out;
    }

    /** "float_MLFloat16" → [float, float16]; null or an unrecognised suffix → empty (not checked). */
    private static List<String> cppTypeList(String suffix) {
        List<String> out = new ArrayList<>();
        if (suffix == null) {
            return out;
        }
        String rest = suffix;
        while (!rest.isEmpty()) {
            String best = null;
            for (String cpp : Kernels.CPP_TYPES.keySet()) {
                if ((rest.equals(cpp) || rest.startsWith(cpp + "_")) && (best == null || cpp.length() > best.length())) {
                    best = cpp;
                }
            }
            if (best == null) {
                return List.of();
            }
            out.add(Kernels.CPP_TYPES.get(best));
            rest = rest.length() == best.length() ? "" : rest.substring(best.length() + 1);
        }
        return out;
    }
}
