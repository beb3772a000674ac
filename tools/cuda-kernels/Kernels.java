import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The rows of the kernel table, and the element types ORT's sources and binary name. */
final class Kernels {
    private Kernels() {}

    /** ORT's element_type_lists.h AllFixedSizeIRv4, as ONNX type names. */
    static final List<String> FIXED_SIZE = List.of("float", "double", "int64", "uint64", "int32", "uint32", "int16",
            "uint16", "int8", "uint8", "float16", "bfloat16", "bool");
    /** element_type_lists.h AllIeeeFloat. */
    static final List<String> IEEE_FLOAT = List.of("float", "double", "float16");
    /** C++ element types (as in kernel class names and GetTensorType<...>) to ONNX type names. */
    static final Map<String, String> CPP_TYPES = new LinkedHashMap<>();

    static {
        String[][] pairs = {{"float", "float"}, {"double", "double"}, {"MLFloat16", "float16"}, {"BFloat16", "bfloat16"},
                {"int8_t", "int8"}, {"int16_t", "int16"}, {"int32_t", "int32"}, {"int64_t", "int64"}, {"uint8_t", "uint8"},
                {"uint16_t", "uint16"}, {"uint32_t", "uint32"}, {"uint64_t", "uint64"}, {"bool", "bool"},
                {"double_t", "double"}, {"float_t", "float"}, {"int32", "int32"}, {"int64", "int64"}, {"string", "string"},
                {"std::string", "string"}, {"Float8E4M3FN", "float8e4m3fn"}, {"Float8E4M3FNUZ", "float8e4m3fnuz"},
                {"Float8E5M2", "float8e5m2"}, {"Float8E5M2FNUZ", "float8e5m2fnuz"}, {"Float4E2M1x2", "float4e2m1"},
                {"Int4x2", "int4"}, {"UInt4x2", "uint4"}};
        for (String[] p : pairs) {
            CPP_TYPES.put(p[0], p[1]);
        }
    }

    record Param(String name, String type) {}

    record Signature(List<Param> inputs, List<Param> outputs) {
        String text() {
            return join(inputs) + "->" + join(outputs);
        }

        private static String join(List<Param> ps) {
            return String.join(",", ps.stream().map(p -> p.name() + ":" + p.type()).toList());
        }
    }

    record Kernel(String domain, String op, int since, int until, List<Signature> signatures,
                  Map<String, List<String>> constraints, String source) {
        String key() {
            return domain + " " + op + " " + since + " " + until;
        }
    }
}
