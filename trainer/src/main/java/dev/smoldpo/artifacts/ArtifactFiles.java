package dev.smoldpo.artifacts;

import java.nio.file.Path;

/** The file names of an artifacts folder, the layout ORT's training API and our manifest expect. */
public record ArtifactFiles(Path dir) {
    public static final String TRAINING = "training_model.onnx";
    public static final String EVAL = "eval_model.onnx";
    public static final String OPTIMIZER = "optimizer_model.onnx";
    public static final String CHECKPOINT = "checkpoint";
    public static final String WEIGHTS = "weights.onnx.data";
    public static final String MANIFEST = "manifest.json";

    public Path training() {
        return dir.resolve(TRAINING);
    }

    public Path eval() {
        return dir.resolve(EVAL);
    }

    public Path optimizer() {
        return dir.resolve(OPTIMIZER);
    }

    public Path checkpoint() {
        return dir.resolve(CHECKPOINT);
    }

    public Path weights() {
        return dir.resolve(WEIGHTS);
    }

    public Path manifest() {
        return dir.resolve(MANIFEST);
    }
}
