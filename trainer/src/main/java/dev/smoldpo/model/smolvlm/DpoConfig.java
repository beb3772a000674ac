package dev.smoldpo.model.smolvlm;

/**
 * The DPO loss baked into the graphs: the variant, cDPO/robust label smoothing, and whether the
 * reference is dropped (reference-free: reference log-probs taken as 0). β is a run-time input.
 */
public record DpoConfig(DpoLossType lossType, double labelSmoothing, boolean referenceFree) {
    public static final DpoConfig DEFAULT = new DpoConfig(DpoLossType.SIGMOID, 0.0, false);

    public DpoConfig {
        if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
            throw new IllegalArgumentException("label_smoothing must be in [0, 0.5), got " + labelSmoothing);
        }
    }
}
