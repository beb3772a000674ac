package dev.smoldpo.model.smolvlm;

/**
 * How a batch of pairs becomes token rows. Both feed the same graphs; only the collation differs.
 */
public enum DpoLayout {
    /**
     * One row per pair: prompt | chosen | rejected, the rejected part's positions restarting after
     * the prompt and its tokens unable to see the chosen ones; the image is encoded once per pair.
     */
    SHARED_PREFIX,
    /** Two rows per pair (prompt | chosen, prompt | rejected), each with its own copy of the image, as TRL runs DPO. */
    CONCATENATED;

    public String configName() {
        return this == SHARED_PREFIX ? "shared_prefix" : "concatenated";
    }

    public static DpoLayout fromConfig(String name) {
        return switch (name) {
            case "shared_prefix", "shared-prefix" -> SHARED_PREFIX;
            case "concatenated" -> CONCATENATED;
            default -> throw new IllegalArgumentException("unknown layout '" + name + "'; use shared_prefix or concatenated");
        };
    }
}
