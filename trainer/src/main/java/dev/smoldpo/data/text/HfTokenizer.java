package dev.smoldpo.data.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} (the Rust "tokenizers" library, through DJL's JNI binding).
 *
 * <p>Built with no truncation (DJL's default silently cuts at 512 tokens), no padding and no added
 * special tokens: the chat template already writes {@code <|im_start|>}, and SmolLM2's tokenizer has
 * no post-processor anyway. {@link #encode} therefore gives exactly the ids of the text.
 *
 * <p>Offline: DJL's native library ({@code libtokenizers.so}, linux x86_64/aarch64, macOS aarch64,
 * windows) is inside the DJL jar and is extracted on first use to
 * {@code $DJL_CACHE_DIR/tokenizers/<version>-cpu-<platform>/} (default {@code ~/.djl.ai}, or
 * {@code java.io.tmpdir/.djl.ai} when the home directory is not writable). On a machine where DJL
 * detects CUDA it would otherwise pick a CUDA "flavor" that is not in the jar and try to download it;
 * this class therefore defaults {@code RUST_FLAVOR=cpu} and {@code ai.djl.offline=true} (system
 * properties, only when neither the property nor the environment variable is set) before DJL loads.
 */
public final class HfTokenizer implements AutoCloseable {
    static {
        defaultProperty("RUST_FLAVOR", "RUST_FLAVOR", "cpu");
        defaultProperty("ai.djl.offline", "DJL_OFFLINE", "true");
    }

    private static void defaultProperty(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) {
            System.setProperty(property, value);
        }
    }

    private final HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final Map<String, Integer> vocab;
    private final Map<String, Integer> addedTokens;
    private final int vocabSize;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Path file, Map<String, Integer> vocab,
            Map<String, Integer> addedTokens) {
        this.tokenizer = tokenizer;
        this.file = file;
        this.vocab = vocab;
        this.addedTokens = addedTokens;
        int max = -1;
        for (int id : vocab.values()) max = Math.max(max, id);
        for (int id : addedTokens.values()) max = Math.max(max, id);
        this.vocabSize = max + 1;
    }

    /**
     * Loads {@code tokenizer.json} from a model folder (or the file itself).
     *
     * @throws IOException when the file is missing or is not a tokenizer DJL can load
     */
    public static HfTokenizer load(Path modelDirOrFile) throws IOException {
        Path file = Files.isDirectory(modelDirOrFile) ? modelDirOrFile.resolve("tokenizer.json") : modelDirOrFile;
        if (!Files.isRegularFile(file)) {
            throw new IOException("no tokenizer.json at " + file.toAbsolutePath());
        }
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        Map<String, Integer> vocab = new HashMap<>();
        JsonNode v = root.path("model").path("vocab");
        if (v.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                vocab.put(e.getKey(), e.getValue().asInt());
            }
        } else if (v.isArray()) { // Unigram: [[piece, score], ...], id = index
            for (int i = 0; i < v.size(); i++) vocab.put(v.get(i).get(0).asText(), i);
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            added.put(t.path("content").asText(), t.path("id").asInt());
        }
        HuggingFaceTokenizer tok;
        try {
            tok = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optAddSpecialTokens(false)
                    .optTruncation(false)
                    .optPadding(false)
                    .optWithOverflowingTokens(false)
                    .build();
        } catch (RuntimeException e) {
            throw new IOException("cannot load tokenizer " + file.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        return new HfTokenizer(tok, file, Collections.unmodifiableMap(vocab), Collections.unmodifiableMap(added));
    }

    /** The ids of {@code text}, with no special tokens added and no truncation. */
    public long[] encode(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    /** The token strings of {@code text} (as in the vocabulary, e.g. {@code Ġred} for " red"). */
    public String[] tokens(String text) {
        return tokenizer.encode(text, false, false).getTokens();
    }

    /** The text of {@code ids}; with {@code skipSpecial}, special tokens are left out. */
    public String decode(long[] ids, boolean skipSpecial) {
        for (long id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " outside [0, " + vocabSize + ")");
            }
        }
        return tokenizer.decode(ids, skipSpecial);
    }

    /**
     * The id of one token, given as it is written in the vocabulary or among the added tokens, e.g.
     * {@code <image>} or {@code <end_of_utterance>}.
     *
     * @throws IllegalArgumentException when the tokenizer has no such token
     */
    public int tokenId(String token) {
        Integer id = addedTokens.get(token);
        if (id == null) id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException("token " + token + " is not in the vocabulary of " + file
                    + (token.startsWith("<") ? " (not among its " + addedTokens.size() + " added/special tokens)" : ""));
        }
        return id;
    }

    /** Whether {@link #tokenId} knows {@code token}. */
    public boolean hasToken(String token) {
        return addedTokens.containsKey(token) || vocab.containsKey(token);
    }

    /** Largest id (vocabulary or added token) + 1: {@code len(tokenizer)} in transformers. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The added tokens of tokenizer.json (content → id), in file order. */
    public Map<String, Integer> addedTokens() {
        return addedTokens;
    }

    /** The tokenizer.json this was loaded from. */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
