package dev.smoldpo.runtime;

/** Run in a child JVM by {@link OrtRuntimeTest}: tries to wire ORT and prints the outcome. */
public final class OrtRuntimeProbe {
    private OrtRuntimeProbe() {}

    public static void main(String[] args) {
        try {
            OrtRuntime.environment();
            if (Boolean.getBoolean("smoldpo.probe.cuda")) {
                System.out.println(OrtRuntime.enableCuda().describe());
            }
            System.out.println("OK");
        } catch (RuntimeException e) {
            System.out.println("FAILED: " + e.getMessage());
        }
    }
}
