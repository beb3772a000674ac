package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The graphs GRPO samples from: the policy of the training artifacts with its LoRA A/B tensors as
 * graph INPUTS (named as in the training checkpoint), so each step's parameters are fed to the same
 * sessions instead of being merged and re-exported. The frozen weights, the vision inputs and the
 * merge of image features into the token embeddings are the training graph's
 * ({@link SmolVlmGraph}); the cached decoding is the deployment decoder's ({@link SmolVlmDeployment}).
 *
 * <ul>
 *   <li>{@link #vision}: {@code pixel_values}, {@code patch_position_ids}, {@code patch_mask} (as
 *       {@link DpoCollator} feeds training) and the vision tower's adapters → {@code image_features}
 *       FLOAT [tiles, L, D].</li>
 *   <li>{@link #decoder}: {@code input_ids} [batch, seq], {@code image_features} [rows, D] and
 *       {@code merge_index} [batch, seq] (the training graph's inputs_merger: each position takes a
 *       row of concat(token embeddings, image features)), {@code attention_mask}, {@code position_ids},
 *       the key/value cache and {@code num_logits_to_keep} as in the deployment decoder, and the
 *       text model's adapters → FLOAT {@code logits} and {@code present.*}.</li>
 * </ul>
 */
public final class SamplingGraphs {
    public static final String IMAGE_FEATURES = SmolVlmInputs.IMAGE_FEATURES;
    public static final String INPUT_IDS = SmolVlmInputs.INPUT_IDS;
    public static final String MERGE_INDEX = SmolVlmInputs.MERGE_INDEX;
    public static final String ATTENTION_MASK = "attention_mask";
    public static final String POSITION_IDS = SmolVlmInputs.POSITION_IDS;
    public static final String NUM_LOGITS_TO_KEEP = "num_logits_to_keep";
    public static final String LOGITS = "logits";

    private SamplingGraphs() {}

    public static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }

    public static String presentName(int layer, String kind) {
        return "present." + layer + "." + kind;
    }

    /** Whether {@code module} is computed by the vision graph (vision tower and connector) rather than the decoder. */
    public static boolean inVisionGraph(String module) {
        return module.startsWith("model.vision_model.") || module.startsWith("model.connector.");
    }

    /** The vision tower and connector, the vision graph's adapters fed as inputs. */
    public static Graph vision(ModelConfig config, WeightSource weights, NumericTypes types, LoraConfig lora,
                               List<LoraTargets.Target> targets) {
        Graph g = new Graph("sampling_vision");
        List<LoraTargets.Target> own = targets.stream().filter(t -> inVisionGraph(t.module())).toList();
        SmolVlmGraph model = model(g, config, weights, types, lora, own);
        Value features = model.imageFeatures(model.declareVisionInputs());
        g.output(g.node("Identity").in(model.layers().toFloat(features)).outputNames(IMAGE_FEATURES).out());
        return g;
    }

    /** The text decoder with a key/value cache, the decoder's adapters fed as inputs. */
    public static Graph decoder(ModelConfig config, WeightSource weights, NumericTypes types, LoraConfig lora,
                                List<LoraTargets.Target> targets) {
        Graph g = new Graph("sampling_decoder");
        ModelConfig.TextConfig t = config.text();
        int d = t.hiddenSize();
        Value ids = g.input(INPUT_IDS, DType.INT64, Shape.of("batch_size", "sequence_length"));
        Value features = g.input(IMAGE_FEATURES, DType.FLOAT, Shape.of("image_rows", d));
        Value merge = g.input(MERGE_INDEX, DType.INT64, Shape.of("batch_size", "sequence_length"));
        Value mask = g.input(ATTENTION_MASK, DType.INT64, Shape.of("batch_size", "total_sequence_length"));
        Value positions = g.input(POSITION_IDS, DType.INT64, Shape.of("batch_size", "sequence_length"));
        List<Value> keys = new ArrayList<>();
        List<Value> values = new ArrayList<>();
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            Shape cache = Shape.of("batch_size", t.numKeyValueHeads(), "past_sequence_length", t.headDim());
            keys.add(g.input(pastName(l, "key"), types.compute(), cache));
            values.add(g.input(pastName(l, "value"), types.compute(), cache));
        }
        Value keep = g.input(NUM_LOGITS_TO_KEEP, DType.INT64, Shape.SCALAR);
        List<LoraTargets.Target> own = targets.stream().filter(x -> !inVisionGraph(x.module())).toList();
        SmolVlmGraph model = model(g, config, weights, types, lora, own);
        SmolVlmLayers layers = model.layers();
        SmolVlmDeployment deployment = new SmolVlmDeployment(model);
        // inputs_merger as in SmolVlmGraph.textHidden: position i takes row merge_index[i] of [tokens; features]
        Value tokens = g.reshape(deployment.embedTokens(ids), -1, d);
        Value table = g.concat(0, tokens, layers.toCompute(features));
        Value embeds = g.gather(table, merge, 0);
        SmolVlmDeployment.DecoderStep step = deployment.decoderWithCache(embeds, mask, positions, keys, values, keep);
        g.output(g.node("Identity").in(layers.toFloat(step.logits())).outputNames(LOGITS).out());
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            g.output(g.node("Identity").in(step.presentKeys().get(l)).outputNames(presentName(l, "key")).out());
            g.output(g.node("Identity").in(step.presentValues().get(l)).outputNames(presentName(l, "value")).out());
        }
        return g;
    }

    /** The model over {@code g} with {@code targets}' A and B declared as FLOAT graph inputs; no dropout. */
    private static SmolVlmGraph model(Graph g, ModelConfig config, WeightSource weights, NumericTypes types, LoraConfig lora,
                                      List<LoraTargets.Target> targets) {
        Map<String, LoraTargets.Target> byModule = new LinkedHashMap<>();
        Map<String, Value> adapters = new LinkedHashMap<>();
        for (LoraTargets.Target target : targets) {
            byModule.put(target.module(), target);
            adapters.put(target.loraA(), g.input(target.loraA(), DType.FLOAT, Shape.fixed(target.loraAShape())));
            adapters.put(target.loraB(), g.input(target.loraB(), DType.FLOAT, Shape.fixed(target.loraBShape())));
        }
        return new SmolVlmGraph(g, config, weights, types, byModule, adapters, lora, false);
    }
}
