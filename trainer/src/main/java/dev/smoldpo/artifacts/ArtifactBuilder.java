package dev.smoldpo.artifacts;

import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.autodiff.Autodiff;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Dim;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.Value;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds the four ONNX Runtime training artifacts (training, eval and optimizer graphs, checkpoint)
 * plus manifest.json for a {@link ModelDefinition}, following the contract ONNX Runtime's training API
 * reads (orttraining/orttraining/training_api/: the graphs' inputs and outputs, gradient accumulation
 * buffers with lazy_reset_grad, the optimizer's sequence inputs, checkpoint v2). Everything is written to a temporary folder beside
 * the target and renamed into place at the end, so a failure never leaves a half-written folder.
 */
public final class ArtifactBuilder {
    public static final String LAZY_RESET_GRAD = "lazy_reset_grad";
    public static final String BUFFER_SUFFIX = "_grad.accumulation.buffer";
    public static final String ACCUMULATION_OUT_SUFFIX = "_grad.accumulation.out";
    /** ORT AdamWOptimizer's adam_mode for torch.optim.AdamW (1 would be HF's legacy AdamW). */
    static final long TORCH_ADAM_MODE = 0L;

    private ArtifactBuilder() {}

    /** More files for the artifacts folder, written into the temporary folder before it is renamed. */
    @FunctionalInterface
    public interface ExtraFiles {
        /** {@code weights} is the shared external-data file, still open for graphs that reuse frozen weights. */
        void write(Path dir, SharedWeights weights) throws IOException;
    }

    /** Builds into {@code outDir} (replacing a previous export there). */
    public static ArtifactFiles build(ModelDefinition model, AdamWConfig adamw, Path outDir, String name,
                                      Map<String, Object> extra) {
        return build(model, adamw, outDir, name, extra, (dir, weights) -> { });
    }

    /** As above, with {@code more} files (reference graph, tokenizer, ...) in the same folder. */
    public static ArtifactFiles build(ModelDefinition model, AdamWConfig adamw, Path outDir, String name,
                                      Map<String, Object> extra, ExtraFiles more) {
        List<Parameter> params = model.trainableParameters();
        checkParameters(params);
        Path tmp = OutputFolder.temporaryFor(outDir);
        try {
            ArtifactFiles files = new ArtifactFiles(tmp);
            Graph eval;
            Graph training;
            try (SharedWeights weights = new SharedWeights(files.weights())) {
                eval = evalGraph(model, params);
                training = trainingGraph(model, params);
                ModelWriter.write(training, files.training(), weights);
                ModelWriter.write(eval, files.eval(), weights);
                more.write(tmp, weights);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the artifacts into " + tmp, e);
            }
            ModelWriter.write(optimizerGraph(adamw, params.size()), files.optimizer(), null);
            CheckpointWriter.write(Checkpoint.of(checkpointTensors(params), List.of()), files.checkpoint());
            manifest(name, training, eval, params, adamw, extra).write(files.manifest());
            OutputFolder.replace(tmp, outDir);
            return new ArtifactFiles(outDir);
        } catch (RuntimeException e) {
            OutputFolder.delete(tmp);
            throw e;
        }
    }

    private static void checkParameters(List<Parameter> params) {
        if (params.isEmpty()) {
            throw new GraphException("no trainable parameters");
        }
        Set<String> seen = new HashSet<>();
        for (Parameter p : params) {
            if (!seen.add(p.name())) {
                throw new GraphException("duplicate trainable parameter '" + p.name() + "'");
            }
            if (p.initial().dtype() != DType.FLOAT) {
                throw new GraphException("trainable parameter '" + p.name() + "' is " + p.initial().dtype()
                        + "; ORT's AdamW trains FLOAT tensors");
            }
        }
    }

    private static Map<String, Value> declare(Graph graph, List<Parameter> params) {
        Map<String, Value> values = new LinkedHashMap<>();
        for (Parameter p : params) {
            values.put(p.name(), graph.input(p.name(), p.initial().dtype(), p.initial().shape()));
        }
        return values;
    }

    /** Forward pass and loss; parameters are graph inputs fed from the checkpoint. */
    static Graph evalGraph(ModelDefinition model, List<Parameter> params) {
        Graph graph = new Graph("eval");
        ModelDefinition.Forward forward = model.build(graph, declare(graph, params), false);
        addOutputs(graph, forward);
        return graph;
    }

    /**
     * Forward and backward as a plain inference graph: parameters are inputs, and the outputs are the
     * loss, the model's outputs, and each parameter's gradient as {@code "grad:" + name}. Used to
     * check gradients (ORT's training API does not expose its gradient buffers).
     */
    public static Graph gradientGraph(ModelDefinition model) {
        List<Parameter> params = model.trainableParameters();
        Graph graph = new Graph("gradients");
        Map<String, Value> trainable = declare(graph, params);
        ModelDefinition.Forward forward = model.build(graph, trainable, false);
        addOutputs(graph, forward);
        Map<String, Value> grads = Autodiff.gradients(graph, forward.loss(), List.copyOf(trainable.values()));
        for (Parameter p : params) {
            graph.output(graph.node("Identity").in(grads.get(p.name())).outputNames("grad:" + p.name()).out());
        }
        return graph;
    }

    /**
     * Forward, backward to the parameters only, and one in-place gradient accumulator per parameter
     * (training_model.onnx, before it is written: with every value's type, for checks of the graph).
     */
    public static Graph trainingGraph(ModelDefinition model, List<Parameter> params) {
        Graph graph = new Graph("training");
        Map<String, Value> trainable = declare(graph, params);
        ModelDefinition.Forward forward = model.build(graph, trainable, true);
        addOutputs(graph, forward);
        Map<String, Value> grads = Autodiff.gradients(graph, forward.loss(), List.copyOf(trainable.values()));
        Value lazyReset = graph.input(LAZY_RESET_GRAD, DType.BOOL, Shape.fixed(1));
        for (Parameter p : params) {
            Value buffer = graph.input(p.name() + BUFFER_SUFFIX, DType.FLOAT, p.initial().shape());
            Value done = graph.msNode("InPlaceAccumulatorV2").in(buffer, grads.get(p.name()), lazyReset)
                    .outputNames(p.name() + ACCUMULATION_OUT_SUFFIX).out();
            graph.output(done);
        }
        return graph;
    }

    private static void addOutputs(Graph graph, ModelDefinition.Forward forward) {
        Value loss = forward.loss();
        if (!loss.shape().hasRank() || !loss.shape().isFullyFixed() || loss.shape().elementCount() != 1) {
            throw new GraphException("loss '" + loss.name() + "' must be a scalar, but has shape " + loss.shape());
        }
        graph.output(loss);
        for (Value v : forward.outputs()) {
            graph.output(v);
        }
    }

    /**
     * ORT's AdamW step over the sequence of {@code parameterCount} parameters, with torch.optim.AdamW's
     * semantics (HF Trainer's default {@code optim="adamw_torch"}): {@code adam_mode 0} decays first,
     * p ← p − lr·wd·p, then m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m / (1−β1^t)) /
     * (√(v / (1−β2^t)) + ε) (orttraining/training_ops/cpu/optimizer/adamw/adamw.cc, AdamWComputeMode0;
     * t is the step the training API feeds, its count of updates + 1). {@code adam_mode 1} is HF's legacy
     * {@code transformers.AdamW}: ε added to the uncorrected √v and the decay after the update.
     *
     * <p>With max_grad_norm > 0 the accumulated gradients of all parameters are first scaled together by
     * min(1, max_norm / (‖g‖₂ + 1e-6)), as torch.nn.utils.clip_grad_norm_ does (the training graph only
     * sees micro-batches, so clipping there would clip each micro-batch instead of their sum), by {@link
     * GradientClipping}, whose result does not depend on the order ORT hands the parameters over in.
     *
     * <p>ORT's CUDA kernel (cuda/optimizer/adamw/adamw_impl.cu) adds 1 to the step it is fed before
     * the bias corrections while the CPU kernel does not; with the training API, which already feeds
     * updates + 1, the CUDA execution provider therefore corrects the bias as for one update later.
     */
    static Graph optimizerGraph(AdamWConfig c, int parameterCount) {
        Graph graph = new Graph("optimizer");
        Value lr = graph.input("learning_rate", DType.FLOAT, Shape.fixed(1));
        Value step = graph.input("step", DType.INT64, Shape.fixed(1));
        Value params = graph.sequenceInput("params", DType.FLOAT);
        Value gradients = graph.sequenceInput("gradients", DType.FLOAT);
        Value m1 = graph.sequenceInput("first_order_moments", DType.FLOAT);
        Value m2 = graph.sequenceInput("second_order_moments", DType.FLOAT);
        if (c.maxGradNorm() > 0) {
            gradients = parameterCount > 0 ? GradientClipping.clip(graph, gradients, parameterCount, c.maxGradNorm())
                    // the parameter count unknown: ORT's clip, whose norm depends on the sequence order (see GradientClipping)
                    : graph.msNode("InplaceClipGradNorm").in(gradients).attr("max_norm", c.maxGradNorm())
                            .outputNames("clipped_gradients").out();
        }
        Value updated = graph.msNode("AdamWOptimizer").in(lr, step, params, gradients, m1, m2)
                .attr("alpha", c.beta1()).attr("beta", c.beta2()).attr("epsilon", c.epsilon())
                .attr("weight_decay", c.weightDecay()).attr("correct_bias", 1L).attr("adam_mode", TORCH_ADAM_MODE)
                .outputNames("updated_flag").out();
        graph.output(updated);
        return graph;
    }

    /**
     * Writes an AdamW optimizer graph for {@code parameterCount} trainable tensors (e.g. a run's own
     * hyper-parameters next to shared artifacts); runs with it are bit-reproducible.
     */
    public static void writeOptimizer(AdamWConfig adamw, int parameterCount, Path file) {
        if (parameterCount < 1) {
            throw new IllegalArgumentException("an optimizer needs at least one trainable tensor, got " + parameterCount);
        }
        ModelWriter.write(optimizerGraph(adamw, parameterCount), file, null);
    }

    private static List<CheckpointTensor> checkpointTensors(List<Parameter> params) {
        List<CheckpointTensor> out = new ArrayList<>();
        for (Parameter p : params) {
            out.add(new CheckpointTensor(p.name(), p.initial().dims(), p.initial().dtype(), p.initial().raw()));
        }
        return out;
    }

    private static Manifest manifest(String name, Graph training, Graph eval, List<Parameter> params,
                                     AdamWConfig adamw, Map<String, Object> extra) {
        Set<String> paramNames = new HashSet<>();
        params.forEach(p -> paramNames.add(p.name()));
        List<Manifest.TensorSpec> trainInputs = userInputs(training, paramNames);
        List<Manifest.TensorSpec> evalInputs = userInputs(eval, paramNames);
        List<Manifest.TensorSpec> outputs = eval.outputs().stream().map(ArtifactBuilder::spec).toList();
        List<Manifest.TensorSpec> parameters = new ArrayList<>();
        for (Parameter p : params) {
            parameters.add(new Manifest.TensorSpec(p.name(), p.initial().dtype().name(),
                    p.initial().shape().dims().stream().map(Dim::toString).toList()));
        }
        Map<String, String> files = new LinkedHashMap<>();
        files.put("training_model", ArtifactFiles.TRAINING);
        files.put("eval_model", ArtifactFiles.EVAL);
        files.put("optimizer_model", ArtifactFiles.OPTIMIZER);
        files.put("checkpoint", ArtifactFiles.CHECKPOINT);
        files.put("weights", ArtifactFiles.WEIGHTS);
        return new Manifest(Manifest.FORMAT_VERSION, name, ModelWriter.PRODUCER, files, trainInputs, evalInputs,
                outputs, parameters, adamw, extra == null ? Map.of() : extra);
    }

    private static List<Manifest.TensorSpec> userInputs(Graph graph, Set<String> paramNames) {
        return graph.inputs().stream()
                .filter(v -> !paramNames.contains(v.name()) && !v.name().endsWith(BUFFER_SUFFIX)
                        && !v.name().equals(LAZY_RESET_GRAD))
                .map(ArtifactBuilder::spec).toList();
    }

    private static Manifest.TensorSpec spec(Value v) {
        List<String> dims = v.shape().hasRank() ? v.shape().dims().stream().map(Dim::toString).toList() : List.of("...");
        return new Manifest.TensorSpec(v.name(), v.dtype().name(), dims);
    }
}
