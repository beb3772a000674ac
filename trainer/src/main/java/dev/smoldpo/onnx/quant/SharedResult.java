package dev.smoldpo.onnx.quant;

import java.util.function.Supplier;

/**
 * One computation whose result several initializers are cut from (a quantized weight's values,
 * scales and zero points): computed when the first of them is written, dropped after the last, so
 * only one weight's result is held at a time.
 */
final class SharedResult<T> implements Supplier<T> {
    private final Supplier<T> compute;
    private final int readers;
    private T result;
    private int reads;

    SharedResult(Supplier<T> compute, int readers) {
        this.compute = compute;
        this.readers = readers;
    }

    @Override
    public synchronized T get() {
        T r = result != null ? result : compute.get();
        reads++;
        result = reads % readers == 0 ? null : r;
        return r;
    }
}
