package dev.smoldpo.infer;

import ai.onnxruntime.OrtException;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Text generation from a deployment folder ({@link DeploymentFolder}) with plain ONNX Runtime inference
 * sessions: the {@link SmolVlmProcessor} turns the question and images into ids and tiles as training
 * does, the {@link CachedDecoder} runs the prompt once and then one token at a time, and a {@link
 * Sampler} picks each token; text streams out as it is made ({@link TextStream}).
 *
 * <p>Not thread-safe: one generation at a time per instance.
 */
public final class Generator implements AutoCloseable {
    public static final String VISION_ENCODER = DeploymentFolder.VISION_ENCODER;
    public static final String EMBED_TOKENS = DeploymentFolder.EMBED_TOKENS;
    public static final String DECODER = DeploymentFolder.DECODER;
    public static final List<String> ONNX_FILES = DeploymentFolder.ONNX_FILES;

    /**
     * Settings of one generation.
     *
     * @param maxNewTokens most tokens to generate
     * @param sampling     greedy or sampling settings
     * @param ignoreEos    keep going past end-of-sequence tokens (tests that need a fixed length)
     */
    public record Options(int maxNewTokens, Sampler.Settings sampling, boolean ignoreEos) {
        public Options {
            if (maxNewTokens < 1) throw new IllegalArgumentException("max_new_tokens must be >= 1: " + maxNewTokens);
            if (sampling == null) throw new IllegalArgumentException("no sampling settings");
        }

        public static Options greedy(int maxNewTokens) {
            return new Options(maxNewTokens, Sampler.Settings.greedyDecoding(), false);
        }

        /** The same settings, generating exactly {@code maxNewTokens} tokens whatever they are. */
        public Options withIgnoreEos() {
            return new Options(maxNewTokens, sampling, true);
        }
    }

    /** Why generation stopped. */
    public enum StopReason {
        /** An end-of-sequence token (not part of {@link Result#tokens()}). */
        EOS,
        /** {@link Options#maxNewTokens()} tokens were made. */
        MAX_NEW_TOKENS,
        /** The sequence reached {@code text_config.max_position_embeddings}. */
        MAX_LENGTH
    }

    /**
     * What a generation made.
     *
     * @param promptTokens length of the expanded prompt
     * @param tokens       the generated ids (without the final end-of-sequence token)
     * @param text         their text, special tokens left out
     * @param stop         why it stopped
     */
    public record Result(int promptTokens, long[] tokens, String text, StopReason stop) {}

    /** A tokenised prompt and its preprocessed images (tiles of all images, in prompt order). Close it to free the pixels. */
    public static final class Prompt implements AutoCloseable {
        private final long[] ids;
        private final SmolVlmProcessor.Images images;

        Prompt(long[] ids, SmolVlmProcessor.Images images) {
            this.ids = ids;
            this.images = images;
        }

        public long[] ids() {
            return ids.clone();
        }

        public int length() {
            return ids.length;
        }

        /** Tiles fed to the vision encoder (0 for a text-only prompt). */
        public long tiles() {
            return images.tiles();
        }

        @Override
        public void close() {
            images.close();
        }
    }

    private final DeploymentFolder folder;
    private final SmolVlmProcessor processor;
    private final CachedDecoder decoder;

    private Generator(DeploymentFolder folder, SmolVlmProcessor processor, CachedDecoder decoder) {
        this.folder = folder;
        this.processor = processor;
        this.decoder = decoder;
    }

    /**
     * Opens a deployment folder.
     *
     * @param threads intra-op threads (0 = ONNX Runtime's default)
     * @param cuda    run the sessions on ONNX Runtime's CUDA execution provider
     * @throws InferenceException when the folder is not a complete deployment folder
     */
    public static Generator open(Path dir, int threads, boolean cuda) throws IOException, OrtException {
        return open(dir, null, threads, cuda);
    }

    /**
     * Opens the files of a deployment folder that {@code dtypes} picks (null: what its config.json
     * names, else float32; see {@link GraphDtypes}).
     */
    public static Generator open(Path dir, GraphDtypes dtypes, int threads, boolean cuda) throws IOException, OrtException {
        DeploymentFolder folder = DeploymentFolder.open(dir, dtypes);
        SmolVlmProcessor processor;
        try {
            processor = SmolVlmProcessor.load(dir, folder.config(), 0, Device.CPU);
        } catch (IllegalArgumentException e) {
            throw new InferenceException(dir + ": " + e.getMessage(), e);
        }
        try {
            return new Generator(folder, processor, CachedDecoder.open(folder, threads, cuda));
        } catch (OrtException | RuntimeException e) {
            processor.close();
            throw e;
        }
    }

    public Path folder() {
        return folder.dir();
    }

    public ModelConfig config() {
        return folder.config();
    }

    /** The precision of each graph, and so the ONNX files loaded. */
    public GraphDtypes dtypes() {
        return folder.dtypes();
    }

    public HfTokenizer tokenizer() {
        return processor.tokenizer();
    }

    /** The decoder sessions (for callers that drive decoding themselves). */
    public CachedDecoder decoder() {
        return decoder;
    }

    /** {@code text_config.max_position_embeddings}: the longest sequence (prompt + generated). */
    public int maxPositions() {
        return folder.config().text().maxPositionEmbeddings();
    }

    /** The end-of-sequence ids of generation_config.json (or config.json). */
    public Set<Long> eosTokenIds() {
        return folder.eosIds();
    }

    // ---------------------------------------------------------------- prompt

    /** The chat-template text for {@code question} with {@code images} image items before the text. */
    public String promptText(String question, int images) {
        return processor.template().prompt(List.of(ChatMessage.user(question, images)));
    }

    /**
     * Applies the chat template, preprocesses the images (as in training), expands each
     * {@code <image>} for its tile grid and tokenises.
     *
     * @throws InferenceException when the prompt is longer than {@code max_position_embeddings}
     */
    public Prompt encode(String question, List<DecodedImage> images) {
        return encode(question, images, "");
    }

    /**
     * As {@link #encode(String, List)}, with the assistant's answer started by {@code answerPrefix}
     * (e.g. "It is"): generation continues that text.
     */
    public Prompt encode(String question, List<DecodedImage> images, String answerPrefix) {
        SmolVlmProcessor.Images processed = processor.preprocess(images);
        try {
            long[] ids;
            try {
                ids = processor.promptIds(List.of(ChatMessage.user(question, images.size())), processed.grids(), answerPrefix);
            } catch (IllegalArgumentException e) {
                throw new InferenceException("cannot place the images: " + e.getMessage()
                        + " (the question itself must not contain " + PromptExpander.IMAGE + ")", e);
            }
            if (ids.length > maxPositions()) {
                throw new InferenceException("the prompt is " + ids.length + " tokens"
                        + (images.isEmpty() ? "" : " (images included)") + ", longer than text_config.max_position_embeddings "
                        + maxPositions());
            }
            return new Prompt(ids, processed);
        } catch (RuntimeException e) {
            processed.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- generation

    /** Encodes and generates; {@code onText} receives each piece of text as soon as it is made. */
    public Result generate(String question, List<DecodedImage> images, Options options, Consumer<String> onText)
            throws OrtException {
        try (Prompt prompt = encode(question, images)) {
            return generate(prompt, options, onText);
        }
    }

    /**
     * Generates with the KV cache: a prefill over the prompt, then one token per decoder run.
     *
     * @param onText receives new text as it is made (may be null)
     */
    public Result generate(Prompt prompt, Options options, Consumer<String> onText) throws OrtException {
        return generate(prompt, options, onText, null);
    }

    /**
     * {@link #generate(Prompt, Options, Consumer)}, also handing each step's last-position logits to
     * {@code onLogits} (the first call comes right after the prefill: benchmarks time it).
     */
    public Result generate(Prompt prompt, Options options, Consumer<String> onText, Consumer<float[]> onLogits) throws OrtException {
        Sampler sampler = new Sampler(options.sampling());
        TextStream stream = new TextStream(processor.tokenizer(), onText);
        List<Long> generated = new ArrayList<>();
        StopReason stop;
        try (CachedDecoder.Cache cache = decoder.prefill(promptEmbeddings(prompt), prompt.ids.length)) {
            while (true) {
                float[] logits = cache.logits();
                if (onLogits != null) onLogits.accept(logits);
                int token = sampler.next(logits);
                if (!options.ignoreEos() && eosTokenIds().contains((long) token)) {
                    stop = StopReason.EOS;
                    break;
                }
                generated.add((long) token);
                stream.push(token);
                if (generated.size() >= options.maxNewTokens()) {
                    stop = StopReason.MAX_NEW_TOKENS;
                    break;
                }
                if (cache.length() + 1 > maxPositions()) {
                    stop = StopReason.MAX_LENGTH;
                    break;
                }
                cache.append(token);
            }
        }
        stream.finish();
        return new Result(prompt.ids.length, toArray(generated), stream.text(), stop);
    }

    /**
     * Greedy decoding without the cache: every step runs the decoder over the whole sequence (prompt +
     * tokens so far) with an empty past. Slow; for checking that the cache changes nothing.
     */
    public Result generateWithoutCache(Prompt prompt, int maxNewTokens, boolean ignoreEos) throws OrtException {
        return generateWithoutCache(prompt, maxNewTokens, ignoreEos, null);
    }

    Result generateWithoutCache(Prompt prompt, int maxNewTokens, boolean ignoreEos, Consumer<float[]> onLogits)
            throws OrtException {
        int h = decoder.hidden();
        float[] embeds = promptEmbeddings(prompt);
        List<Long> generated = new ArrayList<>();
        StopReason stop = StopReason.MAX_NEW_TOKENS;
        while (true) {
            int len = embeds.length / h;
            float[] logits = decoder.logits(embeds, len, 1);
            if (onLogits != null) onLogits.accept(logits);
            int token = Sampler.argmax(logits);
            if (!ignoreEos && eosTokenIds().contains((long) token)) {
                stop = StopReason.EOS;
                break;
            }
            generated.add((long) token);
            if (generated.size() >= maxNewTokens) break;
            if (len + 1 > maxPositions()) {
                stop = StopReason.MAX_LENGTH;
                break;
            }
            float[] grown = Arrays.copyOf(embeds, embeds.length + h);
            System.arraycopy(decoder.embed(new long[] {token}), 0, grown, embeds.length, h);
            embeds = grown;
        }
        long[] out = toArray(generated);
        return new Result(prompt.ids.length, out, processor.tokenizer().decode(out, true), stop);
    }

    /**
     * The log-probability of each candidate answer (rendered as the chat template renders an
     * assistant turn, as in training) after the prompt: answering among given choices, which is what
     * DPO trains the model to rank.
     */
    public double[] scoreAnswers(Prompt prompt, List<String> answers) throws OrtException {
        return scoreAnswers(prompt, answers, "");
    }

    /**
     * The log-probability of each choice after an answer prefix ({@link AnswerScorer}): ranks exactly as
     * scoring {@code prefix + choice} whole.
     */
    public double[] scoreAnswers(Prompt prompt, List<String> choices, String prefix) throws OrtException {
        return new AnswerScorer(processor, decoder).score(promptEmbeddings(prompt), prompt.ids.length, choices, prefix);
    }

    /** The prompt's embeddings with the image features over its {@code <image>} rows. */
    float[] promptEmbeddings(Prompt prompt) throws OrtException {
        float[] features = null;
        PreprocessResult pixels = prompt.images.pixels();
        if (pixels != null) {
            features = decoder.imageFeatures(pixels.pixelValuesBuffer(), pixels.pixelMask().asByteBuffer().order(ByteOrder.nativeOrder()),
                    pixels.totalTiles(), pixels.canvasHeight(), pixels.canvasWidth());
        }
        return decoder.promptEmbeddings(prompt.ids, features);
    }

    private static long[] toArray(List<Long> list) {
        long[] a = new long[list.size()];
        for (int i = 0; i < a.length; i++) a[i] = list.get(i);
        return a;
    }

    @Override
    public void close() throws OrtException {
        try {
            decoder.close();
        } finally {
            processor.close();
        }
    }
}
