package dev.smoldpo.model.smolvlm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.data.text.ChatTemplate;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.hf.HfFormatException;
import dev.smoldpo.hf.JsonFiles;
import dev.smoldpo.hf.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The files next to the weights that training reads from the artifacts folder, checked against
 * config.json before an export: {@code tokenizer.json}, the chat template, {@code preprocessor_config.json}
 * and {@code processor_config.json}. Without this a broken or mismatched file is copied into the
 * artifacts and only fails (or silently falls back to defaults) when fit first reads it.
 */
public final class ProcessingFilesCheck {
    public static final String TOKENIZER = "tokenizer.json";
    public static final String PREPROCESSOR = "preprocessor_config.json";
    public static final String PROCESSOR = "processor_config.json";
    /** The image processor's limit on any side (SMOLDPO_MAX_EDGE). */
    static final int MAX_EDGE = ModelConfig.MAX_IMAGE_SIZE;

    private ProcessingFilesCheck() {}

    /** Throws {@link HfFormatException} naming the file and field of the first problem found. */
    public static void verify(Path modelDir, ModelConfig config) throws IOException {
        checkPreprocessor(modelDir.resolve(PREPROCESSOR), config);
        checkProcessor(modelDir.resolve(PROCESSOR), config);
        checkTokenizer(modelDir, config);
        checkChatTemplate(modelDir);
    }

    /**
     * The Idefics3 image processor settings. {@code max_image_size.longest_edge} is the tile the
     * processor cuts images into, so it must be the vision tower's {@code image_size}; the other
     * fields keep SmolVLM's defaults when absent but must have the right type when present (the
     * reader elsewhere would ignore a wrong type and use the default).
     */
    static void checkPreprocessor(Path file, ModelConfig config) throws IOException {
        JsonNode root = JsonFiles.readObject(file);
        int tile = longestEdge(file, root, "max_image_size", true);
        if (tile != config.vision().imageSize()) {
            throw new HfFormatException(file + ": field 'max_image_size.longest_edge' (the tile size) is " + tile
                    + " but " + config.source() + " has vision_config.image_size " + config.vision().imageSize()
                    + ": the tiles must be the vision tower's input size");
        }
        longestEdge(file, root, "size", false);
        for (String flag : List.of("do_resize", "do_image_splitting", "do_rescale", "do_normalize")) {
            JsonNode v = root.get(flag);
            if (v != null && !v.isNull() && !v.isBoolean()) {
                throw bad(file, flag, v, "true or false");
            }
        }
        JsonNode rescale = root.get("rescale_factor");
        if (rescale != null && !rescale.isNull() && !(rescale.isNumber() && rescale.asDouble() > 0
                && Double.isFinite(rescale.asDouble()))) {
            throw bad(file, "rescale_factor", rescale, "a positive number");
        }
        channelValues(file, root, "image_mean", false);
        channelValues(file, root, "image_std", true);
    }

    /** {@code <object>.longest_edge}, an integer in 1..{@value #MAX_EDGE}; -1 when optional and absent. */
    private static int longestEdge(Path file, JsonNode root, String object, boolean required) throws HfFormatException {
        JsonNode o = root.get(object);
        if (o == null || o.isNull()) {
            if (required) {
                throw new HfFormatException(file + ": missing required field '" + object + ".longest_edge'");
            }
            return -1;
        }
        JsonNode edge = o.get("longest_edge");
        if (!o.isObject() || edge == null || edge.isNull()) {
            throw new HfFormatException(file + ": field '" + object + "' is " + JsonFiles.quote(o)
                    + ", expected an object with 'longest_edge'");
        }
        if (!edge.isIntegralNumber() || !edge.canConvertToInt() || edge.asInt() < 1 || edge.asInt() > MAX_EDGE) {
            throw bad(file, object + ".longest_edge", edge, "an integer in 1.." + MAX_EDGE);
        }
        return edge.asInt();
    }

    /** A number or a list of 3 numbers (one per RGB channel); for std also non-zero. */
    private static void channelValues(Path file, JsonNode root, String field, boolean nonZero) throws HfFormatException {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            return;
        }
        List<JsonNode> values = v.isArray() && v.size() == 3 ? List.of(v.get(0), v.get(1), v.get(2)) : List.of(v);
        for (JsonNode x : values) {
            if (!x.isNumber() || !Double.isFinite(x.asDouble()) || nonZero && x.asDouble() == 0) {
                throw bad(file, field, v, (nonZero ? "non-zero" : "finite") + " numbers, one or one per RGB channel");
            }
        }
    }

    /** {@code image_seq_len}, when present, is the number of tokens the connector makes of one tile. */
    static void checkProcessor(Path file, ModelConfig config) throws IOException {
        JsonNode root = JsonFiles.readObject(file);
        JsonNode seqLen = root.get("image_seq_len");
        if (seqLen == null || seqLen.isNull()) {
            return;
        }
        if (!seqLen.isIntegralNumber() || !seqLen.canConvertToInt()) {
            throw bad(file, "image_seq_len", seqLen, "an integer");
        }
        if (seqLen.asInt() != config.imageSeqLen()) {
            throw new HfFormatException(file + ": field 'image_seq_len' is " + seqLen.asInt() + " but " + config.source()
                    + " makes " + config.imageSeqLen() + " tokens of a tile ((image_size / patch_size / scale_factor)^2)");
        }
    }

    /**
     * The tokenizer loads, fits the embedding table, and has the image tokens the prompt expansion
     * writes, with {@code <image>} at the config's image_token_id.
     */
    static void checkTokenizer(Path modelDir, ModelConfig config) throws IOException {
        try (HfTokenizer tokenizer = HfTokenizer.load(modelDir.resolve(TOKENIZER))) {
            Path file = tokenizer.file();
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new HfFormatException(file + ": the tokenizer has " + tokenizer.vocabSize() + " tokens but "
                        + config.source() + " has text_config.vocab_size " + config.vocabSize());
            }
            for (String token : List.of(PromptExpander.IMAGE, PromptExpander.FAKE_TOKEN_AROUND_IMAGE, PromptExpander.GLOBAL_IMAGE)) {
                if (!tokenizer.hasToken(token)) {
                    throw new HfFormatException(file + ": the tokenizer has no " + token + " token (field 'added_tokens'), "
                            + "which every image prompt needs");
                }
            }
            int imageId = tokenizer.tokenId(PromptExpander.IMAGE);
            if (imageId != config.imageTokenId()) {
                throw new HfFormatException(file + ": the tokenizer's " + PromptExpander.IMAGE + " is id " + imageId
                        + " but " + config.source() + " has image_token_id " + config.imageTokenId());
            }
        }
    }

    /** The template exists, parses, and renders a user turn with an image followed by an answer. */
    static void checkChatTemplate(Path modelDir) throws IOException {
        ChatTemplate template = ChatTemplate.load(modelDir);
        try {
            template.completion("?", true, "answer");
        } catch (RuntimeException e) {
            String why = JsonFiles.abbreviate(String.valueOf(e.getMessage()), 300);
            throw new HfFormatException((why.startsWith(template.origin()) ? why : template.origin() + ": " + why)
                    + " (rendering a question with an image and its answer)", e);
        }
    }

    private static HfFormatException bad(Path file, String field, JsonNode v, String want) {
        return new HfFormatException(file + ": field '" + field + "' is " + JsonFiles.quote(v) + ", expected " + want);
    }
}
