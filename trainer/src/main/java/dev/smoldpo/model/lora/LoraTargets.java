package dev.smoldpo.model.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Chooses the linear layers that get adapters, the way PEFT does for a list of target names: a
 * module matches when its full name equals a target or ends with "." + target. Names of the
 * adapter tensors follow PEFT's saved layout, so export is a rename-free copy.
 */
public final class LoraTargets {
    /** PEFT's prefix for the wrapped model in adapter_model.safetensors. */
    public static final String PEFT_PREFIX = "base_model.model.";

    /** One adapted linear layer: y = x W^T + scale * (x A^T) B^T, with A [r, in] and B [out, r] as PEFT stores them. */
    public record Target(String module, long inFeatures, long outFeatures, int r) {
        public String loraA() {
            return module + ".lora_A.weight";
        }

        public String loraB() {
            return module + ".lora_B.weight";
        }

        public String peftLoraA() {
            return PEFT_PREFIX + loraA();
        }

        public String peftLoraB() {
            return PEFT_PREFIX + loraB();
        }

        public long[] loraAShape() {
            return new long[] {r, inFeatures};
        }

        public long[] loraBShape() {
            return new long[] {outFeatures, r};
        }
    }

    private LoraTargets() {}

    /** Whether PEFT would adapt the module {@code moduleName} for these targets. */
    public static boolean matches(String moduleName, List<String> targets) {
        for (String t : targets) {
            if (moduleName.equals(t) || moduleName.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The targets among the checkpoint's linear weights ({@code name → shape}, e.g. from a
     * safetensors header), in the map's order. A linear weight is a 2-D tensor named "*.weight"
     * with shape [out, in]; embeddings and lm_head never match the projection names.
     */
    public static List<Target> select(Map<String, long[]> weights, LoraConfig config) {
        List<Target> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : weights.entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            if (!name.endsWith(".weight") || shape.length != 2) {
                continue;
            }
            String module = name.substring(0, name.length() - ".weight".length());
            if (!matches(module, config.targetModules())) {
                continue;
            }
            if (config.textOnly() && !module.contains("text_model.")) {
                continue;
            }
            out.add(new Target(module, shape[1], shape[0], config.r()));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + config.targetModules() + " match no linear layer"
                    + (config.textOnly() ? " of the text model" : ""));
        }
        return out;
    }
}
