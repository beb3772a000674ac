package dev.smoldpo.grpo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.ImageCheck;
import dev.smoldpo.data.JsonlImages;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.grpo.sampling.EncodedPrompt;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A user's GRPO prompts: JSONL, one prompt per line, as {@code {"prompt": "How many ...?", "image": "img/1.png",
 * "answer": "3"}} ({@code images}: a list for several images). Images take the forms the preference JSONL
 * takes ({@link JsonlImages}): paths relative to the file's folder, {@code data:} URIs, plain base64,
 * {@code {"bytes": base64}} objects.
 * Every field of the line reaches the rewards as the row (the built-in ones read {@code answer}; a reward
 * command gets them all). The last {@code heldOut} lines are held out for the greedy accuracy, the rest train.
 */
public final class GrpoDataset {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GrpoDataset() {}

    /** Training prompts, then held-out prompts. */
    public static List<List<GrpoPrompt>> load(Path jsonl, SmolVlmProcessor processor, String answerPrefix, int heldOut)
            throws IOException {
        return load(jsonl, processor, answerPrefix, heldOut, false);
    }

    /**
     * As above; with {@code answerRequired} (every reward reads the {@value GrpoRewards#ANSWER} field) a line
     * without one is an error naming it, since none of its completions could be scored.
     */
    public static List<List<GrpoPrompt>> load(Path jsonl, SmolVlmProcessor processor, String answerPrefix, int heldOut,
                                              boolean answerRequired) throws IOException {
        if (!Files.isRegularFile(jsonl)) {
            throw new IllegalArgumentException("dataset: " + jsonl + " is not a file (JSONL with prompt, image, answer)");
        }
        List<GrpoPrompt> all = new ArrayList<>();
        List<String> lines = Files.readAllLines(jsonl);
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                all.add(prompt(jsonl, i + 1, lines.get(i), processor, answerPrefix, answerRequired));
            }
        }
        if (all.size() <= heldOut) {
            throw new IllegalArgumentException("dataset: " + jsonl + " has " + all.size() + " prompts; eval_samples ("
                    + heldOut + ") are held out, so it needs more");
        }
        int split = all.size() - heldOut;
        return List.of(List.copyOf(all.subList(0, split)), List.copyOf(all.subList(split, all.size())));
    }

    private static GrpoPrompt prompt(Path file, int line, String text, SmolVlmProcessor processor, String answerPrefix,
                                     boolean answerRequired) throws IOException {
        String where = file + " line " + line;
        JsonNode row;
        try {
            row = JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException(where + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (!row.path("prompt").isTextual()) {
            throw new IllegalArgumentException(where + ": no \"prompt\" text (fields: " + fieldNames(row) + ")");
        }
        if (answerRequired && (row.path(GrpoRewards.ANSWER).isMissingNode() || row.path(GrpoRewards.ANSWER).isNull())) {
            throw new IllegalArgumentException(where + ": no \"" + GrpoRewards.ANSWER + "\", which every reward in "
                    + "reward_funcs compares the completion with (fields: " + fieldNames(row) + "); add it, or use a "
                    + "format: or cmd: reward, which needs none");
        }
        List<byte[]> encoded;
        try {
            encoded = JsonlImages.read(row, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        if (encoded.isEmpty()) {
            throw new IllegalArgumentException(where + ": no \"image\" or \"images\" (fields: " + fieldNames(row) + ")");
        }
        List<DecodedImage> images = new ArrayList<>();
        for (int k = 0; k < encoded.size(); k++) {
            // decoded as fit decodes a pair's images (EXIF orientation applied), with its reasons for refusing one
            ImageCheck check = ImageCheck.decode(encoded.get(k));
            if (!check.ok()) {
                throw new IllegalArgumentException(where + ": image " + (k + 1) + ": " + check.detail() + " (" + check.reason() + ")");
            }
            images.add(check.image().orElseThrow());
        }
        String question = row.get("prompt").asText();
        EncodedPrompt prompt = encode(processor, question, images, answerPrefix);
        Map<String, Object> fields = new LinkedHashMap<>();
        row.fields().forEachRemaining(e -> fields.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText()
                : e.getValue().toString()));
        return new GrpoPrompt(prompt, question, fields);
    }

    /** A user turn with the images and the question, then the generation prompt and the answer's start. */
    static EncodedPrompt encode(SmolVlmProcessor processor, String question, List<DecodedImage> images, String answerPrefix) {
        try (SmolVlmProcessor.Images pre = processor.preprocess(images)) {
            long[] ids = processor.promptIds(List.of(ChatMessage.user(question, images.size())), pre.grids(),
                    GrpoDemo.assistantAnswerStart(answerPrefix));
            return new EncodedPrompt(ids, new DpoCollator.Tiles(pre.tiles(), pre.pixels().pixelValuesArray(), null));
        }
    }

    private static String fieldNames(JsonNode row) {
        List<String> names = new ArrayList<>();
        row.fieldNames().forEachRemaining(names::add);
        return String.join(", ", names);
    }
}
