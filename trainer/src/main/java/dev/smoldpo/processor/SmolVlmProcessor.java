package dev.smoldpo.processor;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.data.text.ChatTemplate;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.ImagePreprocessor;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.nativelib.PreprocessorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SmolVLM's processor, in the role of transformers' {@code Idefics3Processor}
 * (models/idefics3/processing_idefics3.py): the chat template, the image processor (native, PIL-exact),
 * the expansion of each {@code <image>} into its tiles' tokens, and the tokenizer, read from a model,
 * artifacts or deployment folder and checked against the model's config. Training ({@code PairEncoder}),
 * generation ({@code Generator}) and GRPO encode through it, so their inputs cannot drift apart.
 */
public final class SmolVlmProcessor implements AutoCloseable {
    /** Bumped whenever the pixels for the same bytes and settings change (no-split resize, EXIF), for cache keys. */
    private static final String PIXELS_REVISION = "pixels-r2";

    private final ModelConfig config;
    private final HfTokenizer tokenizer;
    private final ChatTemplate template;
    private final ImagePreprocessor images;
    private final PreprocessorConfig imageConfig;
    /**
     * Rendered chat-template text by conversation: Jinjava builds a fresh context for every render, which
     * dominated a demo fit's data time, and every pair is met again each epoch. Least recently used first out.
     */
    private final Map<List<ChatMessage>, String> rendered = Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<ChatMessage>, String> eldest) {
            return size() > RENDER_CACHE_ENTRIES;
        }
    });
    private static final int RENDER_CACHE_ENTRIES = 32_768;

    private SmolVlmProcessor(ModelConfig config, HfTokenizer tokenizer, ChatTemplate template, PreprocessorConfig imageConfig,
                             ImagePreprocessor images) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.template = template;
        this.imageConfig = imageConfig;
        this.images = images;
    }

    /**
     * Reads the processor files of {@code dir} (tokenizer.json, the chat template, preprocessor_config.json,
     * processor_config.json) for {@code config}'s model.
     *
     * @param longestEdge resize images to this longest edge instead of the processor's own; 0 = the processor's
     * @throws IllegalArgumentException when a file does not fit the model (tile size, image_seq_len, vocabulary, image token)
     */
    public static SmolVlmProcessor load(Path dir, ModelConfig config, int longestEdge, Device device) throws IOException {
        PreprocessorConfig imageConfig = PreprocessorConfig.fromMap(readMap(dir.resolve("preprocessor_config.json")));
        if (longestEdge > 0) {
            imageConfig = imageConfig.withLongestEdge(longestEdge);
        }
        if (imageConfig.tileSize() != config.vision().imageSize()) {
            throw new IllegalArgumentException(dir.resolve("preprocessor_config.json") + ": the tile size " + imageConfig.tileSize()
                    + " does not match the vision tower's image_size " + config.vision().imageSize());
        }
        Object seqLen = readMap(dir.resolve("processor_config.json")).get("image_seq_len");
        if (seqLen instanceof Number n && n.intValue() != config.imageSeqLen()) {
            throw new IllegalArgumentException(dir.resolve("processor_config.json") + ": image_seq_len " + n
                    + " does not match the vision tower's " + config.imageSeqLen() + " tokens per tile");
        }
        HfTokenizer tokenizer = HfTokenizer.load(dir);
        try {
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
                        + config.vocabSize());
            }
            if (!tokenizer.hasToken(PromptExpander.IMAGE) || tokenizer.tokenId(PromptExpander.IMAGE) != config.imageTokenId()) {
                throw new IllegalArgumentException("the tokenizer's " + PromptExpander.IMAGE + " is "
                        + (tokenizer.hasToken(PromptExpander.IMAGE) ? "id " + tokenizer.tokenId(PromptExpander.IMAGE) : "missing")
                        + " but the model's image_token_id is " + config.imageTokenId());
            }
            return new SmolVlmProcessor(config, tokenizer, ChatTemplate.load(dir), imageConfig,
                    new ImagePreprocessor(imageConfig, device));
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    private static Map<String, ?> readMap(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        @SuppressWarnings("unchecked")
        Map<String, ?> m = new ObjectMapper().readValue(file.toFile(), Map.class);
        return m;
    }

    /** Preprocessed images: the tiles of every image (in order) and each image's grid. Close to free the pixels. */
    public record Images(PreprocessResult pixels, List<PromptExpander.TileGrid> grids) implements AutoCloseable {
        public static final Images NONE = new Images(null, List.of());

        /** Tiles of all images. */
        public int tiles() {
            return pixels == null ? 0 : Math.toIntExact(pixels.totalTiles());
        }

        @Override
        public void close() {
            if (pixels != null) {
                pixels.close();
            }
        }
    }

    /** Preprocesses {@code decoded} in one native call (resize, tiles, rescale, normalise). */
    public Images preprocess(List<DecodedImage> decoded) {
        if (decoded.isEmpty()) {
            return Images.NONE;
        }
        PreprocessResult pixels = images.preprocess(decoded);
        List<PromptExpander.TileGrid> grids = new ArrayList<>();
        for (ImageGrid g : pixels.grids()) {
            grids.add(new PromptExpander.TileGrid(g.rows(), g.cols()));
        }
        return new Images(pixels, grids);
    }

    /**
     * The prompt's ids: the chat template with the generation prompt, each {@code <image>} expanded for its
     * image's grid (in order), tokenised; {@code answerPrefix} (may be empty) starts the assistant's answer.
     */
    public long[] promptIds(List<ChatMessage> prompt, List<PromptExpander.TileGrid> grids, String answerPrefix) {
        String text = renderPrompt(prompt) + answerPrefix;
        if (!grids.isEmpty() || PromptExpander.countImages(text) > 0) {
            text = PromptExpander.expand(text, grids, config.imageSeqLen());
        }
        return tokenizer.encode(text);
    }

    /** An answer's ids after {@code prompt}, as the template renders the assistant turn (TRL's way: prompt + answer minus prompt). */
    public long[] completionIds(List<ChatMessage> prompt, List<ChatMessage> answer) {
        List<ChatMessage> all = new ArrayList<>(prompt);
        all.addAll(answer);
        String full = rendered.computeIfAbsent(List.copyOf(all), k -> template.render(ChatMessage.toTemplate(k), false));
        String head = renderPrompt(prompt);
        if (!full.startsWith(head)) {
            throw new IllegalStateException("the chat template does not render the prompt + answer as prompt + completion:\n"
                    + "prompt: " + head + "\nfull:   " + full);
        }
        return tokenizer.encode(full.substring(head.length()));
    }

    /** The prompt with the generation prompt, as the template renders it (cached). */
    private String renderPrompt(List<ChatMessage> prompt) {
        // the generation prompt makes it a different text than the same messages rendered without it
        List<ChatMessage> key = new ArrayList<>(prompt);
        key.add(GENERATION_PROMPT);
        return rendered.computeIfAbsent(key, k -> template.prompt(prompt));
    }

    /** Marks a cache key as "rendered with add_generation_prompt" (never a real message). */
    private static final ChatMessage GENERATION_PROMPT = new ChatMessage("\u0000generation_prompt", List.of());

    /** Everything that decides the pixels of given image bytes, for cache keys. */
    public String pixelSignature() {
        return PIXELS_REVISION + "/" + imageConfig.doResize() + "/" + imageConfig.longestEdge() + "/" + imageConfig.doImageSplitting()
                + "/" + imageConfig.tileSize() + "/" + imageConfig.doRescale() + "/" + imageConfig.rescaleFactor() + "/"
                + imageConfig.doNormalize() + "/" + Arrays.toString(imageConfig.imageMean()) + "/"
                + Arrays.toString(imageConfig.imageStd());
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate template() {
        return template;
    }

    public ModelConfig config() {
        return config;
    }

    public int imageSeqLen() {
        return config.imageSeqLen();
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
