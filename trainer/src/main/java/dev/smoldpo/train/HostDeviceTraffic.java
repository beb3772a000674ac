package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.TensorInfo;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bytes each trainStep and evalStep feeds to ORT and fetches back. ORT's Java training API takes
 * host tensors only and returns host tensors only, so with the CUDA execution provider every fed tensor
 * is copied to the GPU and every fetched output back, each step: these are the step's host↔device
 * transfers (the frozen weights, LoRA parameters, gradients and optimizer state stay where the session
 * put them). On the CPU provider the same bytes are counted, as what a CUDA run of the same data would move.
 */
public final class HostDeviceTraffic {
    /** Totals of one kind of call. */
    public record Totals(long calls, long inputBytes, long outputBytes) {
        Totals plus(long in, long out) {
            return new Totals(calls + 1, inputBytes + in, outputBytes + out);
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("calls", calls);
            m.put("input_bytes", inputBytes);
            m.put("output_bytes", outputBytes);
            m.put("input_bytes_per_call", calls == 0 ? 0 : inputBytes / calls);
            m.put("output_bytes_per_call", calls == 0 ? 0 : outputBytes / calls);
            return m;
        }
    }

    private Totals train = new Totals(0, 0, 0);
    private Totals eval = new Totals(0, 0, 0);

    synchronized void recordTrain(Map<String, ? extends OnnxValue> fed, Iterable<Map.Entry<String, OnnxValue>> fetched) {
        train = train.plus(bytes(fed.values()), bytes(values(fetched)));
    }

    synchronized void recordEval(Map<String, ? extends OnnxValue> fed, Iterable<Map.Entry<String, OnnxValue>> fetched) {
        eval = eval.plus(bytes(fed.values()), bytes(values(fetched)));
    }

    public synchronized Totals train() {
        return train;
    }

    public synchronized Totals eval() {
        return eval;
    }

    /**
     * summary.json's {@code host_device_bytes}: totals by call, and per optimizer step (the trainSteps of
     * its micro-batches, in and out) over the {@code optimizerSteps} this process ran.
     */
    public synchronized Map<String, Object> toMap(long optimizerSteps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("per_optimizer_step", perOptimizerStep(optimizerSteps));
        m.put("train_step", train.toMap());
        m.put("eval_step", eval.toMap());
        return m;
    }

    /** Mean bytes fed plus fetched by the trainSteps of one optimizer step; 0 before the first. */
    public synchronized long perOptimizerStep(long optimizerSteps) {
        return optimizerSteps <= 0 ? 0 : (train.inputBytes() + train.outputBytes()) / optimizerSteps;
    }

    /** The bytes of a tensor's elements (what a copy to or from the device moves). */
    static long bytes(OnnxValue v) {
        if (!(v instanceof OnnxTensor t)) {
            throw new IllegalArgumentException("only tensors are fed and fetched by the DPO graphs, not " + v.getType());
        }
        TensorInfo info = t.getInfo();
        return info.getNumElements() * info.type.size;
    }

    private static long bytes(Iterable<? extends OnnxValue> values) {
        long n = 0;
        for (OnnxValue v : values) {
            n += bytes(v);
        }
        return n;
    }

    private static Iterable<OnnxValue> values(Iterable<Map.Entry<String, OnnxValue>> entries) {
        java.util.List<OnnxValue> out = new java.util.ArrayList<>();
        entries.forEach(e -> out.add(e.getValue()));
        return out;
    }
}
