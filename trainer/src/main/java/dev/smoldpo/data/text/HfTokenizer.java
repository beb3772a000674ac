package dev.smoldpo.data.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.smoldpo.hf.HfFormatException;
import dev.smoldpo.hf.JsonFiles;
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
     * @throws IOException naming the file (and field) when it is missing, is not valid JSON, lacks its
     *     {@code model.vocab}, or is not a tokenizer DJL can load
     */
    public static HfTokenizer load(Path modelDirOrFile) throws IOException {
        Path file = Files.isDirectory(modelDirOrFile) ? modelDirOrFile.resolve("tokenizer.json") : modelDirOrFile;
        JsonNode root = JsonFiles.readObject(file);
        Map<String, Integer> vocab = vocabulary(file, root);
        Map<String, Integer> added = new LinkedHashMap<>();
        JsonNode addedTokens = root.path("added_tokens");
        if (!addedTokens.isMissingNode() && !addedTokens.isNull() && !addedTokens.isArray()) {
            throw new HfFormatException(file + ": field 'added_tokens' is " + JsonFiles.quote(addedTokens) + ", expected an array");
        }
        for (JsonNode t : addedTokens) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt() || !t.path("id").isIntegralNumber()) {
                throw new HfFormatException(file + ": an entry of 'added_tokens' is " + JsonFiles.quote(t)
                        + ", expected {\"id\": <integer>, \"content\": <string>, ...}");
            }
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
            throw new HfFormatException(file + ": the tokenizers library cannot load it: "
                    + JsonFiles.abbreviate(String.valueOf(e.getMessage()), 300), e);
        }
        return new HfTokenizer(tok, file, Collections.unmodifiableMap(vocab), Collections.unmodifiableMap(added));
    }

    /** {@code model.vocab}: token → id (BPE/WordPiece/WordLevel object, or Unigram's [[piece, score], ...]). */
    private static Map<String, Integer> vocabulary(Path file, JsonNode root) throws HfFormatException {
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new HfFormatException(file + ": missing required field 'model' (an object)");
        }
        JsonNode v = model.get("vocab");
        Map<String, Integer> vocab = new HashMap<>();
        if (v != null && v.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt()) {
                    throw new HfFormatException(file + ": field 'model.vocab' maps " + JsonFiles.quote(new TextNode(e.getKey()))
                            + " to " + JsonFiles.quote(e.getValue()) + ", expected an integer id");
                }
                vocab.put(e.getKey(), e.getValue().asInt());
            }
        } else if (v != null && v.isArray()) { // Unigram: [[piece, score], ...], id = index
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).path(0).isTextual()) {
                    throw new HfFormatException(file + ": entry " + i + " of field 'model.vocab' is " + JsonFiles.quote(v.get(i))
                            + ", expected [piece, score]");
                }
                vocab.put(v.get(i).get(0).asText(), i);
            }
        } else {
            throw new HfFormatException(file + ": field 'model.vocab' is " + (v == null ? "missing" : JsonFiles.quote(v))
                    + ", expected an object (token to id) or an array of [piece, score]");
        }
        return vocab;
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
