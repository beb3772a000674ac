package dev.smoldpo.artifacts;

import dev.smoldpo.onnx.TensorData;

/** A trainable tensor: its name in the graphs and checkpoint, and its initial value. */
public record Parameter(String name, TensorData initial) {}
