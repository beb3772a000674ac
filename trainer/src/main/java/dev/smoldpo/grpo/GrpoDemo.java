package dev.smoldpo.grpo;

import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.grpo.sampling.EncodedPrompt;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GRPO's built-in demo: the demo model's coloured shapes, asked {@value DemoDataset#QUESTION}, rewarded only for
 * naming the shape's exact colour (normalised_match against the colour word). The answer starts after "It is"
 * (answer_prefix, rendered as the chat template renders the start of an assistant answer: "Assistant: It is",
 * as DPO's demo answers are), and the completion is the one next word (max_completion_length 1: every colour
 * is one token, " red" .. " orange").
 *
 * <p>Why temperature 4: the demo model's logits are bounded (a frozen final RMSNorm and lm_head under LoRA),
 * so at temperature 1 the policy soon puts all the probability it can on one colour for every image (a
 * colour-word format reward makes this immediate), the other colours are then never sampled, every group's
 * rewards are equal and the signal is gone (greedy accuracy stuck at one colour's share, ~0.14). Sampled and
 * trained at a high temperature (TRL divides the logits by it in the loss too) the policy cannot concentrate
 * that far, every colour keeps being sampled, and the argmax, which greedy evaluation reads, learns the image.
 * Measured on 2 cores (lr 5e-3 decaying linearly, beta 0.04, one thread; greedy held-out accuracy at the end):
 * temperature 3, 600 steps: 0.75-0.80 on seeds 1 and 2 (with a constant rate: 0.59-0.95, unstable);
 * temperature 4, 600 steps: 0.953, 0.938, 0.766, 0.969 on seeds 1, 2, 3, 42; 900 steps: 0.969 on seeds 1, 3, 42
 * (DemoGrpoEndToEndTest runs seed 42). beta 0.04 keeps the KL near 0.085.
 */
public final class GrpoDemo {
    public static final int TRAIN_PROMPTS = 384;
    public static final int HELD_OUT_PROMPTS = 64;
    public static final long DATA_SEED = 7;
    public static final String ANSWER = "answer";
    /** The recipe's name as the source of its settings. */
    public static final String RECIPE = "demo recipe";

    private GrpoDemo() {}

    /** The demo recipe: on top of the defaults, below a config file and flags. */
    public static Map<String, String> recipe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("output_dir", "runs/grpo-demo");
        m.put("artifacts_dir", "onnx-artifacts/grpo-demo");
        m.put("image_longest_edge", "32");
        m.put("learning_rate", "5e-3");
        m.put("max_steps", "900");
        m.put("num_generations", "32");
        m.put("per_device_train_batch_size", "512");
        m.put("max_completion_length", "1");
        m.put("temperature", "4.0");
        m.put("beta", "0.04");
        m.put("answer_prefix", "It is");
        m.put("reward_funcs", "normalised_match");
        m.put("logging_steps", "10");
        m.put("eval_steps", "50");
        m.put("save_steps", "50");
        m.put("save_total_limit", "2");
        return m;
    }

    /**
     * The text after the generation prompt ("Assistant:") that starts an answer with {@code answerPrefix}: the chat
     * template writes ": " before an assistant's text, so " It is" (one space), as a rendered DPO answer has it.
     */
    static String assistantAnswerStart(String answerPrefix) {
        return answerPrefix.isEmpty() ? "" : " " + answerPrefix;
    }

    /** The first {@code TRAIN_PROMPTS} generated items for training, the next {@code HELD_OUT_PROMPTS} held out. */
    public static List<List<GrpoPrompt>> prompts(SmolVlmProcessor processor, String answerPrefix) {
        List<DemoDataset.Pair> items = DemoDataset.generate(TRAIN_PROMPTS + HELD_OUT_PROMPTS, DATA_SEED, false);
        List<GrpoPrompt> train = new ArrayList<>();
        List<GrpoPrompt> heldOut = new ArrayList<>();
        for (DemoDataset.Pair item : items) {
            EncodedPrompt encoded = GrpoDataset.encode(processor, DemoDataset.QUESTION,
                    List.of(DecodedImage.decode(item.png())), answerPrefix);
            GrpoPrompt p = new GrpoPrompt(encoded, DemoDataset.QUESTION, Map.of(ANSWER, item.colour()));
            (train.size() < TRAIN_PROMPTS ? train : heldOut).add(p);
        }
        return List.of(train, heldOut);
    }
}
