package dev.smoldpo.grpo;

import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.grpo.sampling.EncodedPrompt;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GRPO's built-in demo: the demo model's coloured shapes, asked {@value DemoDataset#QUESTION}, rewarded for
 * naming the shape's colour. The randomly initialised demo model almost never says a colour word, so the
 * task is shaped as TRL users shape theirs: the answer starts after "It is" (answer_prefix), the completion
 * is the one next word (max_completion_length 1), and a small format reward pays any colour word, so the
 * first groups already differ; the exact reward (normalised_match against the colour) then teaches which one.
 */
public final class GrpoDemo {
    public static final int TRAIN_PROMPTS = 384;
    public static final int HELD_OUT_PROMPTS = 64;
    public static final long DATA_SEED = 7;
    public static final String ANSWER = "answer";
    /** The format reward: the completion names a colour (any one). */
    public static final String COLOUR_WORD = "format:(?is).*\\b(" + String.join("|", DemoDataset.COLOURS) + ")\\b.*";

    private GrpoDemo() {}

    /** The demo recipe: on top of the defaults, below a config file and flags. */
    public static Map<String, String> recipe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("output_dir", "runs/grpo-demo");
        m.put("artifacts_dir", "onnx-artifacts/grpo-demo");
        m.put("image_longest_edge", "32");
        m.put("learning_rate", "3e-2");
        m.put("max_steps", "200");
        m.put("num_generations", "16");
        m.put("per_device_train_batch_size", "128");
        m.put("max_completion_length", "1");
        m.put("answer_prefix", "It is");
        m.put("reward_funcs", "normalised_match," + COLOUR_WORD);
        m.put("reward_weights", "1.0,0.2");
        m.put("logging_steps", "10");
        m.put("eval_steps", "20");
        m.put("save_steps", "50");
        m.put("save_total_limit", "2");
        return m;
    }

    /** The first {@code TRAIN_PROMPTS} generated items for training, the next {@code HELD_OUT_PROMPTS} held out. */
    public static List<List<GrpoPrompt>> prompts(SmolVlmProcessor processor, String answerPrefix) {
        List<DemoDataset.Pair> items = DemoDataset.generate(TRAIN_PROMPTS + HELD_OUT_PROMPTS, DATA_SEED, false);
        List<GrpoPrompt> train = new ArrayList<>();
        List<GrpoPrompt> heldOut = new ArrayList<>();
        for (DemoDataset.Pair item : items) {
            List<ChatMessage> prompt = List.of(ChatMessage.user(DemoDataset.QUESTION, 1));
            EncodedPrompt encoded;
            try (SmolVlmProcessor.Images images = processor.preprocess(List.of(DecodedImage.decode(item.png())))) {
                long[] ids = processor.promptIds(prompt, images.grids(), answerPrefix);
                encoded = new EncodedPrompt(ids, new dev.smoldpo.model.smolvlm.DpoCollator.Tiles(images.tiles(),
                        images.pixels().pixelValuesArray(), null));
            }
            GrpoPrompt p = new GrpoPrompt(encoded, DemoDataset.QUESTION, Map.of(ANSWER, item.colour()));
            (train.size() < TRAIN_PROMPTS ? train : heldOut).add(p);
        }
        return List.of(train, heldOut);
    }
}
