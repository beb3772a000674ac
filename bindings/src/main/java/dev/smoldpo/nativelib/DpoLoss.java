package dev.smoldpo.nativelib;

import dev.smoldpo.nativelib.ffi.smoldpo_dpo_outputs;
import dev.smoldpo.nativelib.ffi.smoldpo_dpo_params;
import dev.smoldpo.nativelib.ffi.smoldpo_dpo_summary;
import dev.smoldpo.nativelib.ffi.smoldpo_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The fused DPO loss: per-pair loss, mean loss, gradients of the mean loss with respect to the
 * policy log-probs, rewards, margins and accuracy, in one native pass.
 *
 * <pre>{@code
 * DpoLoss dpo = new DpoLoss(LossType.SIGMOID, 0.1, 0.0, false, Device.CPU);
 * DpoResult r = dpo.compute(policyChosen, policyRejected, refChosen, refRejected, null, null);
 * log(r.metrics());   // rewards/chosen, rewards/accuracies, ...
 * }</pre>
 *
 * @param referenceFree reference log-probs taken as 0 (the reference arrays may then be null)
 */
public record DpoLoss(LossType type, double beta, double labelSmoothing, boolean referenceFree, Device device) {

    public DpoLoss {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(device, "device");
        NativeLibrary.load();
        SmolDpoNative.requireAvailable(device);
    }

    /** Sigmoid DPO with TRL's defaults: beta 0.1, no label smoothing, with a reference, on the CPU. */
    public static DpoLoss sigmoid(double beta) {
        return new DpoLoss(LossType.SIGMOID, beta, 0.0, false, Device.CPU);
    }

    public DpoLoss on(Device d) {
        return new DpoLoss(type, beta, labelSmoothing, referenceFree, d);
    }

    /**
     * Computes everything for B pairs from heap arrays (copied once into native memory).
     *
     * @param chosenLengths   completion lengths, needed for ipo (else may be null)
     * @param rejectedLengths completion lengths, needed for ipo (else may be null)
     */
    public DpoResult compute(double[] policyChosen, double[] policyRejected, double[] referenceChosen,
                             double[] referenceRejected, int[] chosenLengths, int[] rejectedLengths) {
        Objects.requireNonNull(policyChosen, "policyChosen");
        int b = policyChosen.length;
        requireLength("policyRejected", policyRejected, b);
        requireLength("referenceChosen", referenceChosen, b);
        requireLength("referenceRejected", referenceRejected, b);
        requireLength("chosenLengths", chosenLengths, b);
        requireLength("rejectedLengths", rejectedLengths, b);
        try (Arena call = Arena.ofConfined()) {
            return compute(b, doubles(call, policyChosen), doubles(call, policyRejected),
                    doubles(call, referenceChosen), doubles(call, referenceRejected),
                    ints(call, chosenLengths), ints(call, rejectedLengths));
        }
    }

    /** Float overload (ORT hands out float32 log-probs); computed in double. */
    public DpoResult compute(float[] policyChosen, float[] policyRejected, float[] referenceChosen,
                             float[] referenceRejected, int[] chosenLengths, int[] rejectedLengths) {
        return compute(toDouble(policyChosen), toDouble(policyRejected), toDouble(referenceChosen),
                toDouble(referenceRejected), chosenLengths, rejectedLengths);
    }

    /**
     * Zero-copy variant over native segments of {@code batch} doubles (int32 for the lengths);
     * any of the reference / length segments may be {@link MemorySegment#NULL} where allowed.
     */
    public DpoResult compute(long batch, MemorySegment policyChosen, MemorySegment policyRejected,
                             MemorySegment referenceChosen, MemorySegment referenceRejected,
                             MemorySegment chosenLengths, MemorySegment rejectedLengths) {
        if (batch > Integer.MAX_VALUE / 8)
            throw new IllegalArgumentException("batch " + batch + " exceeds " + Integer.MAX_VALUE / 8);
        // batch <= 0 is reported by the native side (SMOLDPO_ERR_INVALID_ARGUMENT)
        checkSegment("policyChosen", policyChosen, batch * 8);
        checkSegment("policyRejected", policyRejected, batch * 8);
        checkSegment("referenceChosen", referenceChosen, batch * 8);
        checkSegment("referenceRejected", referenceRejected, batch * 8);
        checkSegment("chosenLengths", chosenLengths, batch * 4);
        checkSegment("rejectedLengths", rejectedLengths, batch * 4);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment params = smoldpo_dpo_params.allocate(call);
            smoldpo_dpo_params.loss_type(params, type.code());
            smoldpo_dpo_params.flags(params, referenceFree ? smoldpo_h.SMOLDPO_DPO_REFERENCE_FREE() : 0);
            smoldpo_dpo_params.beta(params, beta);
            smoldpo_dpo_params.label_smoothing(params, labelSmoothing);
            MemorySegment all = call.allocate(ValueLayout.JAVA_DOUBLE, 6 * Math.max(batch, 1));
            MemorySegment outs = smoldpo_dpo_outputs.allocate(call);
            MemorySegment[] arr = new MemorySegment[6];
            long n = Math.max(batch, 0);
            for (int j = 0; j < 6; j++) arr[j] = all.asSlice(j * n * 8, n * 8);
            smoldpo_dpo_outputs.losses(outs, arr[0]);
            smoldpo_dpo_outputs.grad_chosen(outs, arr[1]);
            smoldpo_dpo_outputs.grad_rejected(outs, arr[2]);
            smoldpo_dpo_outputs.rewards_chosen(outs, arr[3]);
            smoldpo_dpo_outputs.rewards_rejected(outs, arr[4]);
            smoldpo_dpo_outputs.margins(outs, arr[5]);
            MemorySegment summary = smoldpo_dpo_summary.allocate(call);
            MemorySegment err = SmolDpoNative.newError(call);
            int rc = smoldpo_h.smoldpo_dpo_loss(device.code(), batch, policyChosen, policyRejected,
                    referenceChosen, referenceRejected, chosenLengths, rejectedLengths, params, outs, summary, err);
            SmolDpoNative.check(rc, err, "smoldpo_dpo_loss(" + type.trlName() + ")", device);
            return new DpoResult(
                    arr[0].toArray(ValueLayout.JAVA_DOUBLE), smoldpo_dpo_summary.loss(summary),
                    arr[1].toArray(ValueLayout.JAVA_DOUBLE), arr[2].toArray(ValueLayout.JAVA_DOUBLE),
                    arr[3].toArray(ValueLayout.JAVA_DOUBLE), arr[4].toArray(ValueLayout.JAVA_DOUBLE),
                    arr[5].toArray(ValueLayout.JAVA_DOUBLE), smoldpo_dpo_summary.rewards_accuracy(summary),
                    smoldpo_dpo_summary.rewards_chosen(summary), smoldpo_dpo_summary.rewards_rejected(summary),
                    smoldpo_dpo_summary.rewards_margin(summary), smoldpo_dpo_summary.logps_chosen(summary),
                    smoldpo_dpo_summary.logps_rejected(summary));
        }
    }

    private static void requireLength(String name, Object array, int b) {
        if (array == null) return; // the native side says whether null is allowed
        int n = array instanceof double[] d ? d.length : ((int[]) array).length;
        if (n != b) throw new IllegalArgumentException(name + " has " + n + " entries, policyChosen has " + b);
    }

    private static void checkSegment(String name, MemorySegment s, long bytes) {
        Objects.requireNonNull(s, () -> name + " is null; pass MemorySegment.NULL for an absent input");
        if (s.equals(MemorySegment.NULL)) return;
        if (!s.isNative()) throw new IllegalArgumentException(name + " must be a native segment");
        if (s.byteSize() < bytes)
            throw new IllegalArgumentException(name + " holds " + s.byteSize() + " bytes, " + bytes + " needed");
    }

    private static MemorySegment doubles(Arena a, double[] v) {
        return v == null ? MemorySegment.NULL : a.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
    }

    private static MemorySegment ints(Arena a, int[] v) {
        return v == null ? MemorySegment.NULL : a.allocateFrom(ValueLayout.JAVA_INT, v);
    }

    private static double[] toDouble(float[] f) {
        if (f == null) return null;
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
