package dev.smoldpo.nativelib;

import java.util.Locale;

/** DPO loss variants ({@code enum smoldpo_loss_type}), named as TRL's {@code loss_type}. */
public enum LossType {
    /** -(1-e) log s(bD) - e log s(-bD) (DPO; cDPO with label smoothing e). */
    SIGMOID(0),
    /** [-(1-e) log s(bD) + e log s(-bD)] / (1 - 2e). */
    ROBUST(1),
    /** max(0, 1 - bD). */
    HINGE(2),
    /** (D' - 1/(2b))^2 on length-normalised log-probs. */
    IPO(3),
    /** (1 - s(bDc)) + s(bDr). */
    APO_ZERO(4),
    /** (Dc - 1/(2b))^2 + (Dr + 1/(2b))^2. */
    SPPO_HARD(5),
    /** -log s(bDc) - 1/2 log s(-bDc) - 1/2 log s(-bDr). */
    NCA_PAIR(6),
    /** s(bDc) + (1 - s(bD)). */
    APO_DOWN(7);

    private final int code;

    LossType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** TRL's name: {@code sigmoid}, {@code apo_zero}, ... */
    public String trlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** From TRL's name (case-insensitive). */
    public static LossType fromTrlName(String name) {
        for (LossType t : values()) if (t.trlName().equalsIgnoreCase(name.trim())) return t;
        throw new IllegalArgumentException("unknown DPO loss_type '" + name + "'; supported: sigmoid, robust, hinge, ipo, apo_zero, sppo_hard, nca_pair, apo_down");
    }
}
