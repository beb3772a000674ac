package dev.smoldpo.onnx;

/** Registry keys for operators: "OpType" in the default domain, "domain::OpType" otherwise. */
public final class OpKey {
    public static final String MS_DOMAIN = "com.microsoft";

    private OpKey() {}

    public static String of(String domain, String opType) {
        return domain == null || domain.isEmpty() ? opType : domain + "::" + opType;
    }
}
