package dev.smoldpo.model.smolvlm;

import java.util.Locale;

/** The DPO loss variants of the training graph, with TRL's names (loss_type). */
public enum DpoLossType {
    SIGMOID, ROBUST, HINGE, IPO, APO_ZERO;

    public String trlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DpoLossType fromTrl(String name) {
        for (DpoLossType t : values()) {
            if (t.trlName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown loss_type '" + name + "'; known: sigmoid, robust, hinge, ipo, apo_zero");
    }
}
