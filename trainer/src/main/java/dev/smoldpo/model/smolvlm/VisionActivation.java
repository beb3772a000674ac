package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Value;

/**
 * The vision tower's MLP activation, from {@code vision_config.hidden_act} (transformers'
 * ACT2FN): {@code gelu_pytorch_tanh}, the tanh approximation SmolVLM's checkpoints use (ORT's
 * com.microsoft FastGelu), or {@code gelu}, the exact x Φ(x) with erf (com.microsoft Gelu). Both
 * ops have CPU and CUDA kernels in ORT and a VJP rule in our autodiff.
 */
public enum VisionActivation {
    GELU_PYTORCH_TANH("gelu_pytorch_tanh", "FastGelu"),
    GELU("gelu", "Gelu");

    private final String hfName;
    private final String msOp;

    VisionActivation(String hfName, String msOp) {
        this.hfName = hfName;
        this.msOp = msOp;
    }

    public String hfName() {
        return hfName;
    }

    /** The activation {@code config} names; anything else is an error naming the file and the value. */
    public static VisionActivation of(ModelConfig config) {
        String act = config.vision().hiddenAct();
        for (VisionActivation a : values()) {
            if (a.hfName.equals(act)) {
                return a;
            }
        }
        throw new IllegalArgumentException(config.source() + ": vision_config.hidden_act '" + act
                + "' is not supported (expected gelu_pytorch_tanh or gelu)");
    }

    /** The activation applied to {@code x}, as one com.microsoft op. */
    Value apply(Graph g, Value x) {
        return g.msNode(msOp).in(x).out();
    }
}
