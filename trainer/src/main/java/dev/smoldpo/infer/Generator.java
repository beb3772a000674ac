package dev.smoldpo.infer;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.text.ChatTemplate;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.model.hf.ModelConfig;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.ImagePreprocessor;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.nativelib.PreprocessorConfig;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.train.TrainingSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Text generation from a deployment folder (the transformers.js layout: {@code config.json},
 * tokenizer and processor files, {@code onnx/vision_encoder.onnx}, {@code onnx/embed_tokens.onnx},
 * {@code onnx/decoder_model_merged.onnx}) with plain ONNX Runtime inference sessions, driven the way
 * transformers.js drives it: the prompt is embedded, the image features replace the {@code <image>}
 * rows, the decoder runs once over the prompt with an empty cache and then one token at a time with
 * its {@code present.*} outputs fed back as {@code past_key_values.*}.
 *
 * <p>Not thread-safe: one generation at a time per instance.
 */
public final class Generator implements AutoCloseable {
    public static final String VISION_ENCODER = "onnx/vision_encoder.onnx";
    public static final String EMBED_TOKENS = "onnx/embed_tokens.onnx";
    public static final String DECODER = "onnx/decoder_model_merged.onnx";
    public static final List<String> ONNX_FILES = List.of(VISION_ENCODER, EMBED_TOKENS, DECODER);

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

    /**
     * A tokenised prompt and its preprocessed images (tiles of all images, in prompt order). Close it
     * to free the pixel memory.
     */
    public static final class Prompt implements AutoCloseable {
        private final long[] ids;
        private final PreprocessResult pixels;

        Prompt(long[] ids, PreprocessResult pixels) {
            this.ids = ids;
            this.pixels = pixels;
        }

        public long[] ids() {
            return ids.clone();
        }

        public int length() {
            return ids.length;
        }

        /** Tiles fed to the vision encoder (0 for a text-only prompt). */
        public long tiles() {
            return pixels == null ? 0 : pixels.totalTiles();
        }

        @Override
        public void close() {
            if (pixels != null) pixels.close();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final ModelConfig config;
    private final int imageSeqLen;
    private final Set<Long> eosIds;
    private final HfTokenizer tokenizer;
    private final ChatTemplate template;
    private final ImagePreprocessor preprocessor;
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions sessionOptions;
    private final OrtSession vision;
    private final OrtSession embed;
    private final OrtSession decoder;
    private final Set<String> decoderInputs;
    private final Set<String> visionInputs;

    private Generator(Path dir, ModelConfig config, int imageSeqLen, Set<Long> eosIds, HfTokenizer tokenizer,
            ChatTemplate template, ImagePreprocessor preprocessor, OrtEnvironment env, OrtSession.SessionOptions options,
            OrtSession vision, OrtSession embed, OrtSession decoder) {
        this.dir = dir;
        this.config = config;
        this.imageSeqLen = imageSeqLen;
        this.eosIds = eosIds;
        this.tokenizer = tokenizer;
        this.template = template;
        this.preprocessor = preprocessor;
        this.env = env;
        this.sessionOptions = options;
        this.vision = vision;
        this.embed = embed;
        this.decoder = decoder;
        this.decoderInputs = decoder.getInputNames();
        this.visionInputs = vision.getInputNames();
    }

    /**
     * Opens a deployment folder.
     *
     * @param threads intra-op threads (0 = ONNX Runtime's default)
     * @param cuda    run the sessions on ONNX Runtime's CUDA execution provider
     * @throws InferenceException when the folder is not a complete deployment folder
     */
    public static Generator open(Path dir, int threads, boolean cuda) throws IOException, OrtException {
        checkFolder(dir);
        ModelConfig config;
        try {
            config = ModelConfig.load(dir);
        } catch (IOException e) {
            throw new InferenceException(dir + ": cannot read config.json: " + e.getMessage(), e);
        }
        Map<String, ?> processorJson = readMap(dir.resolve("preprocessor_config.json"));
        PreprocessorConfig processor = PreprocessorConfig.fromMap(processorJson);
        if (processor.tileSize() != config.vision().imageSize()) {
            throw new InferenceException(dir + ": preprocessor_config.json's tile size " + processor.tileSize()
                    + " does not match vision_config.image_size " + config.vision().imageSize());
        }
        Object seqLen = readMap(dir.resolve("processor_config.json")).get("image_seq_len");
        int imageSeqLen = seqLen instanceof Number n ? n.intValue() : config.imageSeqLen();
        if (imageSeqLen != config.imageSeqLen()) {
            throw new InferenceException(dir + ": processor_config.json's image_seq_len " + imageSeqLen
                    + " does not match the vision tower's " + config.imageSeqLen() + " tokens per tile");
        }
        Set<Long> eos = eosIds(dir);

        HfTokenizer tokenizer = HfTokenizer.load(dir);
        List<AutoCloseable> opened = new ArrayList<>();
        opened.add(tokenizer);
        try {
            if (tokenizer.hasToken(PromptExpander.IMAGE) && tokenizer.tokenId(PromptExpander.IMAGE) != config.imageTokenId()) {
                throw new InferenceException(dir + ": the tokenizer's " + PromptExpander.IMAGE + " is id "
                        + tokenizer.tokenId(PromptExpander.IMAGE) + " but config.json's image_token_id is "
                        + config.imageTokenId());
            }
            ChatTemplate template = ChatTemplate.load(dir);
            ImagePreprocessor preprocessor = new ImagePreprocessor(processor, Device.CPU);
            OrtEnvironment env = OrtRuntime.environment(); // before any other ORT class: it wires the native library
            OrtSession.SessionOptions options = TrainingSession.sessionOptions(threads, cuda);
            opened.add(options);
            OrtSession vision = env.createSession(dir.resolve(VISION_ENCODER).toString(), options);
            opened.add(vision);
            OrtSession embed = env.createSession(dir.resolve(EMBED_TOKENS).toString(), options);
            opened.add(embed);
            OrtSession decoder = env.createSession(dir.resolve(DECODER).toString(), options);
            opened.add(decoder);
            Generator g = new Generator(dir, config, imageSeqLen, eos, tokenizer, template, preprocessor, env, options,
                    vision, embed, decoder);
            g.checkDecoder();
            return g;
        } catch (IOException | OrtException | RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** Fails clearly when {@code dir} is not a deployment folder or lacks one of its ONNX files. */
    static void checkFolder(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new InferenceException("model folder " + dir + " does not exist");
        }
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new InferenceException(dir + " has no config.json: not a deployment folder (expected config.json, "
                    + "tokenizer files and " + String.join(", ", ONNX_FILES) + ")");
        }
        List<String> missing = new ArrayList<>();
        for (String f : ONNX_FILES) {
            if (!Files.isRegularFile(dir.resolve(f))) missing.add(f);
        }
        if (!missing.isEmpty()) {
            throw new InferenceException(dir + " is missing " + String.join(", ", missing)
                    + " (a deployment folder needs " + String.join(", ", ONNX_FILES) + ")");
        }
        for (String f : List.of("tokenizer.json")) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new InferenceException(dir + " is missing " + f);
            }
        }
    }

    private void checkDecoder() throws OrtException {
        List<String> missing = new ArrayList<>();
        for (String name : List.of("inputs_embeds", "attention_mask")) {
            if (!decoderInputs.contains(name)) missing.add(name);
        }
        for (int i = 0; i < layers(); i++) {
            for (String kind : List.of("key", "value")) {
                if (!decoderInputs.contains(pastName(i, kind))) missing.add(pastName(i, kind));
            }
        }
        if (!missing.isEmpty()) {
            throw new InferenceException(dir.resolve(DECODER) + " lacks the inputs " + missing + " (config.json has "
                    + layers() + " layers)");
        }
        if (!embed.getInputNames().contains("input_ids")) {
            throw new InferenceException(dir.resolve(EMBED_TOKENS) + " has no input_ids input");
        }
        NodeInfo past = decoder.getInputInfo().get(pastName(0, "key"));
        if (past.getInfo() instanceof TensorInfo t) {
            if (t.type != OnnxJavaType.FLOAT) {
                throw new InferenceException(dir.resolve(DECODER) + ": the KV cache is " + t.type + "; only float32 is supported");
            }
            long[] shape = t.getShape();
            if (shape.length != 4 || shape[1] > 0 && shape[1] != kvHeads() || shape[3] > 0 && shape[3] != headDim()) {
                throw new InferenceException(dir.resolve(DECODER) + ": past_key_values.0.key has shape "
                        + Arrays.toString(shape) + ", config.json says [batch, " + kvHeads() + ", past, " + headDim() + "]");
            }
        }
    }

    // ---------------------------------------------------------------- accessors

    public Path folder() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    /** {@code text_config.max_position_embeddings}: the longest sequence (prompt + generated). */
    public int maxPositions() {
        return config.text().maxPositionEmbeddings();
    }

    /** The end-of-sequence ids of generation_config.json (or config.json). */
    public Set<Long> eosTokenIds() {
        return eosIds;
    }

    private int layers() {
        return config.text().numHiddenLayers();
    }

    private int kvHeads() {
        return config.text().numKeyValueHeads();
    }

    private int headDim() {
        return config.text().headDim();
    }

    private int hidden() {
        return config.text().hiddenSize();
    }

    // ---------------------------------------------------------------- prompt

    /** The chat-template text for {@code question} with {@code images} image items before the text. */
    public String promptText(String question, int images) {
        if (images <= 1) return template.prompt(question, images == 1);
        List<Map<String, Object>> content = new ArrayList<>();
        for (int i = 0; i < images; i++) content.add(Map.of("type", "image"));
        Map<String, Object> text = new LinkedHashMap<>();
        text.put("type", "text");
        text.put("text", question);
        content.add(text);
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("role", "user");
        user.put("content", content);
        return template.render(List.of(user), true);
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
     * (e.g. " It is"): generation continues that text.
     */
    public Prompt encode(String question, List<DecodedImage> images, String answerPrefix) {
        String text = promptText(question, images.size()) + answerPrefix;
        PreprocessResult pixels = null;
        try {
            if (!images.isEmpty()) {
                pixels = preprocessor.preprocess(images);
                List<PromptExpander.TileGrid> grids = new ArrayList<>();
                for (ImageGrid g : pixels.grids()) grids.add(new PromptExpander.TileGrid(g.rows(), g.cols()));
                try {
                    text = PromptExpander.expand(text, grids, imageSeqLen);
                } catch (IllegalArgumentException e) {
                    throw new InferenceException("cannot place the images: " + e.getMessage()
                            + " (the question itself must not contain " + PromptExpander.IMAGE + ")", e);
                }
            }
            long[] ids = tokenizer.encode(text);
            if (ids.length > maxPositions()) {
                throw new InferenceException("the prompt is " + ids.length + " tokens"
                        + (images.isEmpty() ? "" : " (images included)") + ", longer than text_config.max_position_embeddings "
                        + maxPositions());
            }
            long imageTokens = count(ids, config.imageTokenId());
            long expected = pixels == null ? 0 : pixels.totalTiles() * imageSeqLen;
            if (imageTokens != expected) {
                throw new InferenceException("the prompt has " + imageTokens + " " + PromptExpander.IMAGE + " tokens but the "
                        + images.size() + " image(s) give " + expected + " image features");
            }
            return new Prompt(ids, pixels);
        } catch (RuntimeException e) {
            if (pixels != null) pixels.close();
            throw e;
        }
    }

    private static long count(long[] ids, long id) {
        long n = 0;
        for (long v : ids) if (v == id) n++;
        return n;
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

    /** {@link #generate(Prompt, Options, Consumer)}, also handing each step's last-position logits to {@code onLogits}. */
    Result generate(Prompt prompt, Options options, Consumer<String> onText, Consumer<float[]> onLogits) throws OrtException {
        Sampler sampler = new Sampler(options.sampling());
        TextStream stream = new TextStream(tokenizer, onText);
        long[] ids = prompt.ids;
        float[] embeds = promptEmbeddings(prompt);
        List<Long> generated = new ArrayList<>();
        StopReason stop = StopReason.MAX_NEW_TOKENS;
        Map<String, OnnxTensor> past = emptyPast();
        OrtSession.Result held = null; // owns the tensors in `past` after the first step
        try {
            int n = ids.length;
            float[] stepEmbeds = embeds;
            int stepLen = n;
            int pastLen = 0;
            while (true) {
                OrtSession.Result r = runDecoder(stepEmbeds, stepLen, pastLen, past);
                float[] logits = lastLogits(r);
                if (onLogits != null) onLogits.accept(logits);
                if (held != null) {
                    held.close();
                } else {
                    past.values().forEach(OnnxTensor::close);
                }
                held = r;
                past = presents(r);
                pastLen += stepLen;
                int token = sampler.next(logits);
                if (!options.ignoreEos() && eosIds.contains((long) token)) {
                    stop = StopReason.EOS;
                    break;
                }
                generated.add((long) token);
                stream.push(token);
                if (generated.size() >= options.maxNewTokens()) {
                    stop = StopReason.MAX_NEW_TOKENS;
                    break;
                }
                if (pastLen + 1 > maxPositions()) {
                    stop = StopReason.MAX_LENGTH;
                    break;
                }
                stepEmbeds = embedIds(new long[] {token});
                stepLen = 1;
            }
        } finally {
            if (held != null) {
                held.close();
            } else {
                past.values().forEach(OnnxTensor::close);
            }
        }
        stream.finish();
        return new Result(ids.length, toArray(generated), stream.text(), stop);
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
        long[] ids = prompt.ids;
        float[] promptEmbeds = promptEmbeddings(prompt);
        int h = hidden();
        List<Long> generated = new ArrayList<>();
        StopReason stop = StopReason.MAX_NEW_TOKENS;
        float[] embeds = promptEmbeds;
        while (true) {
            int len = embeds.length / h;
            Map<String, OnnxTensor> past = emptyPast();
            int token;
            try (OrtSession.Result r = runDecoder(embeds, len, 0, past)) {
                float[] logits = lastLogits(r);
                if (onLogits != null) onLogits.accept(logits);
                token = Sampler.argmax(logits);
            } finally {
                past.values().forEach(OnnxTensor::close);
            }
            if (!ignoreEos && eosIds.contains((long) token)) {
                stop = StopReason.EOS;
                break;
            }
            generated.add((long) token);
            if (generated.size() >= maxNewTokens) break;
            if (len + 1 > maxPositions()) {
                stop = StopReason.MAX_LENGTH;
                break;
            }
            float[] next = embedIds(new long[] {token});
            float[] grown = Arrays.copyOf(embeds, embeds.length + h);
            System.arraycopy(next, 0, grown, embeds.length, h);
            embeds = grown;
        }
        long[] out = toArray(generated);
        return new Result(ids.length, out, tokenizer.decode(out, true), stop);
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
     * The log-probability of each choice after an answer prefix: each answer is {@code prefix + choice},
     * tokenised together as one assistant turn (so a token spanning the boundary is the choice's), and
     * the sum covers the tokens after those every answer shares with the prefix alone. Those shared
     * tokens are identical in every answer and follow the same context, so the ranking is exactly that
     * of scoring {@code prefix + choice} whole.
     */
    public double[] scoreAnswers(Prompt prompt, List<String> choices, String prefix) throws OrtException {
        List<long[]> answers = new ArrayList<>();
        int shared = Integer.MAX_VALUE;
        for (String choice : choices) {
            String rendered = template.completion(prefix + choice);
            int at = rendered.indexOf(prefix + choice);
            long[] ids = tokenizer.encode(rendered);
            long[] prefixIds = tokenizer.encode(rendered.substring(0, Math.max(0, at) + prefix.length()));
            int common = 0;
            while (common < Math.min(ids.length - 1, prefixIds.length) && ids[common] == prefixIds[common]) {
                common++;
            }
            shared = Math.min(shared, common);
            answers.add(ids);
        }
        double[] scores = new double[choices.size()];
        for (int c = 0; c < answers.size(); c++) {
            scores[c] = logProbability(prompt, answers.get(c), shared);
        }
        return scores;
    }

    /** The summed log-probability of {@code answer[from:]} after the prompt and {@code answer[:from]}. */
    private double logProbability(Prompt prompt, long[] answer, int from) throws OrtException {
        float[] promptEmbeds = promptEmbeddings(prompt);
        int h = hidden();
        int p = prompt.ids.length;
        float[] embeds = Arrays.copyOf(promptEmbeds, (p + answer.length) * h);
        System.arraycopy(embedIds(answer), 0, embeds, p * h, answer.length * h);
        Map<String, OnnxTensor> past = emptyPast();
        try (OrtSession.Result r = runDecoder(embeds, p + answer.length, 0, past, answer.length + 1)) {
            float[] logits = copy((OnnxTensor) r.get("logits").orElseThrow());
            int vocab = logits.length / (answer.length + 1);
            double total = 0;
            for (int j = from; j < answer.length; j++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, logits[j * vocab + v]);
                }
                double sum = 0;
                for (int v = 0; v < vocab; v++) {
                    sum += Math.exp(logits[j * vocab + v] - max);
                }
                total += logits[j * vocab + (int) answer[j]] - max - Math.log(sum);
            }
            return total;
        } finally {
            past.values().forEach(OnnxTensor::close);
        }
    }

    private static float[] copy(OnnxTensor t) {
        java.nio.FloatBuffer b = t.getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private static long[] toArray(List<Long> list) {
        long[] a = new long[list.size()];
        for (int i = 0; i < a.length; i++) a[i] = list.get(i);
        return a;
    }

    // ---------------------------------------------------------------- sessions

    /** embed_tokens over the prompt, with the image features written over the {@code <image>} rows. */
    float[] promptEmbeddings(Prompt prompt) throws OrtException {
        float[] embeds = embedIds(prompt.ids);
        if (prompt.pixels == null) {
            if (count(prompt.ids, config.imageTokenId()) > 0) {
                throw new InferenceException("the prompt has " + PromptExpander.IMAGE + " tokens but no image was given");
            }
            return embeds;
        }
        float[] features = imageFeatures(prompt.pixels);
        int h = hidden();
        long rows = features.length / h;
        long imageTokens = count(prompt.ids, config.imageTokenId());
        if (rows != imageTokens) {
            throw new InferenceException("the vision encoder gave " + rows + " feature rows for " + imageTokens + " "
                    + PromptExpander.IMAGE + " tokens (" + prompt.pixels.totalTiles() + " tiles)");
        }
        int next = 0;
        for (int i = 0; i < prompt.ids.length; i++) {
            if (prompt.ids[i] == config.imageTokenId()) {
                System.arraycopy(features, next * h, embeds, i * h, h);
                next++;
            }
        }
        return embeds;
    }

    private float[] imageFeatures(PreprocessResult pixels) throws OrtException {
        long tiles = pixels.totalTiles();
        long hh = pixels.canvasHeight(), ww = pixels.canvasWidth();
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            if (visionInputs.contains("pixel_values")) {
                FloatBuffer values = pixels.pixelValuesBuffer();
                in.put("pixel_values", OnnxTensor.createTensor(env, values, new long[] {1, tiles, 3, hh, ww}));
            }
            if (visionInputs.contains("pixel_attention_mask")) {
                ByteBuffer mask = pixels.pixelMask().asByteBuffer().order(ByteOrder.nativeOrder());
                in.put("pixel_attention_mask", OnnxTensor.createTensor(env, mask, new long[] {1, tiles, hh, ww},
                        OnnxJavaType.BOOL));
            }
            try (OrtSession.Result r = vision.run(in)) {
                OnnxValue v = r.get("image_features").orElseThrow(() -> new InferenceException(
                        dir.resolve(VISION_ENCODER) + " has no image_features output"));
                long[] shape = ((OnnxTensor) v).getInfo().getShape();
                if (shape[shape.length - 1] != hidden()) {
                    throw new InferenceException(dir.resolve(VISION_ENCODER) + ": image_features " + Arrays.toString(shape)
                            + " do not end in the text hidden size " + hidden());
                }
                return floats((OnnxTensor) v);
            }
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    private float[] embedIds(long[] ids) throws OrtException {
        try (OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
             OrtSession.Result r = embed.run(Map.of("input_ids", t))) {
            OnnxValue v = r.get("inputs_embeds").orElse(r.get(0));
            return floats((OnnxTensor) v);
        }
    }

    /** One decoder run: {@code len} new embeddings after {@code pastLen} cached positions. */
    private OrtSession.Result runDecoder(float[] embeds, int len, int pastLen, Map<String, OnnxTensor> past)
            throws OrtException {
        return runDecoder(embeds, len, pastLen, past, 1);
    }

    private OrtSession.Result runDecoder(float[] embeds, int len, int pastLen, Map<String, OnnxTensor> past, int keep)
            throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>(past);
        List<OnnxTensor> created = new ArrayList<>();
        try {
            created.add(put(in, "inputs_embeds", OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds, 0, len * hidden()),
                    new long[] {1, len, hidden()})));
            long[] mask = new long[pastLen + len];
            Arrays.fill(mask, 1);
            created.add(put(in, "attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask),
                    new long[] {1, mask.length})));
            if (decoderInputs.contains("position_ids")) {
                long[] pos = new long[len];
                for (int i = 0; i < len; i++) pos[i] = pastLen + i;
                created.add(put(in, "position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {1, len})));
            }
            if (decoderInputs.contains("num_logits_to_keep")) {
                created.add(put(in, "num_logits_to_keep", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {keep}),
                        new long[0])));
            }
            if (decoderInputs.contains("use_cache_branch")) {
                created.add(put(in, "use_cache_branch", OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(1)
                        .put((byte) (pastLen > 0 ? 1 : 0)).flip(), new long[] {1}, OnnxJavaType.BOOL)));
            }
            return decoder.run(in);
        } finally {
            created.forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor put(Map<String, OnnxTensor> in, String name, OnnxTensor t) {
        in.put(name, t);
        return t;
    }

    /** Empty float32 caches [1, kv, 0, head_dim] for every layer. */
    private Map<String, OnnxTensor> emptyPast() throws OrtException {
        Map<String, OnnxTensor> past = new HashMap<>();
        try {
            for (int i = 0; i < layers(); i++) {
                for (String kind : List.of("key", "value")) {
                    past.put(pastName(i, kind), OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(0),
                            new long[] {1, kvHeads(), 0, headDim()}, OnnxJavaType.FLOAT));
                }
            }
        } catch (OrtException | RuntimeException e) {
            past.values().forEach(OnnxTensor::close);
            throw e;
        }
        return past;
    }

    /** The present.* outputs of {@code r} under the past_key_values.* input names (owned by {@code r}). */
    private Map<String, OnnxTensor> presents(OrtSession.Result r) {
        Map<String, OnnxTensor> past = new HashMap<>();
        for (int i = 0; i < layers(); i++) {
            for (String kind : List.of("key", "value")) {
                String name = "present." + i + "." + kind;
                OnnxValue v = r.get(name).orElseThrow(() -> new InferenceException(dir.resolve(DECODER) + " has no output "
                        + name));
                past.put(pastName(i, kind), (OnnxTensor) v);
            }
        }
        return past;
    }

    /** The logits of the last position of the run. */
    private float[] lastLogits(OrtSession.Result r) {
        OnnxTensor logits = (OnnxTensor) r.get("logits").orElseThrow(() -> new InferenceException(
                dir.resolve(DECODER) + " has no logits output"));
        long[] shape = logits.getInfo().getShape();
        int vocab = Math.toIntExact(shape[shape.length - 1]);
        FloatBuffer b = logits.getFloatBuffer();
        float[] row = new float[vocab];
        b.position(b.limit() - vocab);
        b.get(row);
        return row;
    }

    private static float[] floats(OnnxTensor t) {
        FloatBuffer b = t.getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }

    // ---------------------------------------------------------------- files

    private static Map<String, ?> readMap(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return Map.of();
        @SuppressWarnings("unchecked")
        Map<String, ?> m = JSON.readValue(file.toFile(), Map.class);
        return m;
    }

    /** eos_token_id of generation_config.json, else of config.json / text_config; an int or a list. */
    static Set<Long> eosIds(Path dir) throws IOException {
        Set<Long> ids = new LinkedHashSet<>();
        for (Path f : List.of(dir.resolve("generation_config.json"), dir.resolve("config.json"))) {
            if (!Files.isRegularFile(f)) continue;
            JsonNode root = JSON.readTree(f.toFile());
            for (JsonNode node : List.of(root.path("eos_token_id"), root.path("text_config").path("eos_token_id"))) {
                if (node.isIntegralNumber()) ids.add(node.asLong());
                if (node.isArray()) node.forEach(v -> ids.add(v.asLong()));
            }
            if (!ids.isEmpty()) break;
        }
        return Set.copyOf(ids);
    }

    @Override
    public void close() throws OrtException {
        OrtException first = null;
        for (OrtSession s : List.of(decoder, embed, vision)) {
            try {
                s.close();
            } catch (OrtException e) {
                if (first == null) first = e;
            }
        }
        sessionOptions.close();
        tokenizer.close();
        if (first != null) throw first;
    }
}
