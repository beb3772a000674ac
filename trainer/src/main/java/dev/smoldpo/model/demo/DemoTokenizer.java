package dev.smoldpo.model.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.smoldpo.data.text.PromptExpander;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Generates the tokenizer files of the built-in demo model: a real Hugging Face byte-level BPE
 * tokenizer (the shape of SmolLM2's: Digits + ByteLevel pre-tokenizer, ByteLevel decoder, no
 * normalizer, no post-processor) with {@link DemoSpec#VOCAB_SIZE} tokens.
 *
 * <ul>
 *   <li>ids 0 .. {@link DemoSpec#FIRST_REGULAR_ID}-1: the special tokens at DemoSpec's ids (SmolVLM's
 *       names), as {@code added_tokens} with {@code special: true} (never split, skipped when decoding
 *       with skip-special) and also in the model vocabulary, as SmolLM2 has them;
 *   <li>then the 256 byte tokens (GPT-2's byte-to-unicode alphabet), so any text encodes and
 *       round-trips;
 *   <li>then merges learnt here, deterministically, by the standard BPE procedure (most frequent
 *       adjacent pair, ties by the pair's text) on a small built-in English corpus weighted towards the
 *       demo task's words, until the vocabulary is full.
 * </ul>
 *
 * Files written: {@code tokenizer.json}, {@code tokenizer_config.json}, {@code special_tokens_map.json},
 * {@code added_tokens.json} and {@code chat_template.json} (a template of our own that renders
 * exactly as SmolVLM's for user/assistant messages of image and text parts).
 */
public final class DemoTokenizer {
    private DemoTokenizer() {}

    /**
     * SmolVLM's chat semantics, written anew: {@code <|im_start|>}, then per message the capitalised
     * role, {@code :} directly followed by the content when the first part is an image (else
     * {@code ": "}), text parts verbatim, image parts as {@code <image>}, {@code <end_of_utterance>\n}
     * after each message; {@code Assistant:} with the generation prompt.
     */
    public static final String CHAT_TEMPLATE = "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}"
            + "{{ ':' if m['content'][0]['type'] == 'image' else ': ' }}"
            + "{% for part in m['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
            + "{% elif part['type'] == 'image' %}<image>{% endif %}{% endfor %}"
            + "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}";

    /** SmolLM2's pre-tokenizer split (GPT-2's regex), used here only to cut the training corpus into words. */
    private static final Pattern WORDS = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    /** The special tokens, index = id. */
    public static List<String> specialTokens() {
        String[] t = new String[DemoSpec.FIRST_REGULAR_ID];
        t[DemoSpec.END_OF_TEXT_ID] = DemoSpec.END_OF_TEXT;
        t[DemoSpec.IM_START_ID] = DemoSpec.IM_START;
        t[DemoSpec.IM_END_ID] = DemoSpec.IM_END;
        t[DemoSpec.END_OF_UTTERANCE_ID] = DemoSpec.END_OF_UTTERANCE;
        t[DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID] = DemoSpec.FAKE_TOKEN_AROUND_IMAGE;
        t[DemoSpec.IMAGE_TOKEN_ID] = DemoSpec.IMAGE;
        t[DemoSpec.GLOBAL_IMAGE_ID] = DemoSpec.GLOBAL_IMAGE;
        for (int r = 1; r <= 6; r++) {
            for (int c = 1; c <= 6; c++) {
                t[DemoSpec.FIRST_ROW_COL_ID + (r - 1) * 6 + (c - 1)] = PromptExpander.rowColToken(r, c);
            }
        }
        for (int i = 0; i < t.length; i++) {
            if (t[i] == null) throw new IllegalStateException("DemoSpec leaves special id " + i + " unassigned");
        }
        return List.of(t);
    }

    /** Writes the five tokenizer files into {@code dir} (created if needed), each atomically. */
    public static void writeTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        List<String> specials = specialTokens();
        Bpe bpe = train(DemoSpec.VOCAB_SIZE - DemoSpec.FIRST_REGULAR_ID);

        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        List<Object> added = new ArrayList<>();
        for (int id = 0; id < specials.size(); id++) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("id", id);
            a.putAll(addedTokenFlags(specials.get(id)));
            added.add(a);
        }
        root.put("added_tokens", added);
        root.put("normalizer", null);
        root.put("pre_tokenizer", Map.of("type", "Sequence", "pretokenizers", List.of(
                orderedMap("type", "Digits", "individual_digits", true),
                orderedMap("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true, "use_regex", true))));
        root.put("post_processor", null);
        root.put("decoder", orderedMap("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", true, "use_regex", true));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int id = 0; id < specials.size(); id++) vocab.put(specials.get(id), id);
        for (String s : bpe.tokens) vocab.put(s, DemoSpec.FIRST_REGULAR_ID + vocab.size() - specials.size());
        if (vocab.size() != DemoSpec.VOCAB_SIZE) {
            throw new IllegalStateException("demo vocabulary has " + vocab.size() + " tokens, expected " + DemoSpec.VOCAB_SIZE);
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        model.put("vocab", vocab);
        model.put("merges", bpe.merges);
        root.put("model", model);
        write(dir.resolve("tokenizer.json"), json.writeValueAsString(root));

        List<String> additional = List.of(DemoSpec.FAKE_TOKEN_AROUND_IMAGE, DemoSpec.IMAGE, DemoSpec.END_OF_UTTERANCE);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("add_prefix_space", false);
        Map<String, Object> decoder = new LinkedHashMap<>();
        for (int id = 0; id < specials.size(); id++) decoder.put(Integer.toString(id), addedTokenFlags(specials.get(id)));
        config.put("added_tokens_decoder", decoder);
        config.put("additional_special_tokens", additional);
        config.put("bos_token", DemoSpec.IM_START);
        config.put("clean_up_tokenization_spaces", false);
        config.put("eos_token", DemoSpec.END_OF_UTTERANCE);
        config.put("legacy", false);
        config.put("model_max_length", DemoSpec.MAX_POSITION_EMBEDDINGS);
        config.put("pad_token", DemoSpec.IM_END);
        config.put("processor_class", "Idefics3Processor");
        config.put("tokenizer_class", "GPT2Tokenizer");
        config.put("truncation_side", "left");
        config.put("unk_token", DemoSpec.END_OF_TEXT);
        config.put("vocab_size", DemoSpec.VOCAB_SIZE);
        write(dir.resolve("tokenizer_config.json"), json.writeValueAsString(config));

        Map<String, Object> map = new LinkedHashMap<>();
        List<Object> add = new ArrayList<>();
        for (String s : additional) add.add(tokenObject(s));
        map.put("additional_special_tokens", add);
        map.put("bos_token", tokenObject(DemoSpec.IM_START));
        map.put("eos_token", tokenObject(DemoSpec.END_OF_UTTERANCE));
        map.put("pad_token", tokenObject(DemoSpec.IM_END));
        map.put("unk_token", tokenObject(DemoSpec.END_OF_TEXT));
        write(dir.resolve("special_tokens_map.json"), json.writeValueAsString(map));

        // as in SmolVLM: the tokens the Idefics3 processor adds on top of the text model's vocabulary
        Map<String, Integer> addedJson = new java.util.TreeMap<>();
        for (int id = DemoSpec.END_OF_UTTERANCE_ID; id < specials.size(); id++) addedJson.put(specials.get(id), id);
        write(dir.resolve("added_tokens.json"), json.writeValueAsString(addedJson));

        write(dir.resolve("chat_template.json"), json.writeValueAsString(Map.of("chat_template", CHAT_TEMPLATE)));
    }

    private static Map<String, Object> addedTokenFlags(String content) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("content", content);
        a.put("single_word", false);
        a.put("lstrip", false);
        a.put("rstrip", false);
        a.put("normalized", false);
        a.put("special", true);
        return a;
    }

    private static Map<String, Object> tokenObject(String content) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("content", content);
        a.put("lstrip", false);
        a.put("normalized", false);
        a.put("rstrip", false);
        a.put("single_word", false);
        return a;
    }

    private static Map<String, Object> orderedMap(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static void write(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    // ---------------------------------------------------------------- byte-level BPE training

    /** GPT-2's reversible map from bytes to printable characters (printable Latin-1 map to themselves). */
    static char[] byteToUnicode() {
        char[] map = new char[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = direct[b] ? (char) b : (char) next++;
        return map;
    }

    /** The byte tokens in GPT-2's order: directly mapped bytes first, then the rest. */
    private static List<String> byteTokens(char[] map) {
        List<String> direct = new ArrayList<>();
        List<String> shifted = new ArrayList<>();
        for (int b = 0; b < 256; b++) (map[b] == b ? direct : shifted).add(String.valueOf(map[b]));
        direct.addAll(shifted);
        return direct;
    }

    record Bpe(List<String> tokens, List<List<String>> merges) {}

    /** Learns merges until there are {@code size} regular tokens (256 bytes + merges). */
    static Bpe train(int size) {
        char[] map = byteToUnicode();
        List<String> tokens = new ArrayList<>(byteTokens(map));
        // word (in byte-level characters) -> weight
        Map<String, Integer> wordCounts = new LinkedHashMap<>();
        for (String[] entry : corpus()) {
            int weight = Integer.parseInt(entry[0]);
            Matcher m = WORDS.matcher(entry[1]);
            while (m.find()) {
                StringBuilder w = new StringBuilder();
                for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) w.append(map[b & 0xFF]);
                wordCounts.merge(w.toString(), weight, Integer::sum);
            }
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
            List<String> symbols = new ArrayList<>();
            e.getKey().codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
            words.add(symbols);
            counts.add(e.getValue());
        }
        List<List<String>> merges = new ArrayList<>();
        java.util.Set<String> known = new java.util.HashSet<>(tokens);
        while (tokens.size() < size) {
            Map<List<String>, Integer> pairs = new HashMap<>();
            for (int i = 0; i < words.size(); i++) {
                List<String> w = words.get(i);
                for (int j = 0; j + 1 < w.size(); j++) pairs.merge(List.of(w.get(j), w.get(j + 1)), counts.get(i), Integer::sum);
            }
            List<String> best = null;
            int bestCount = 0;
            for (Map.Entry<List<String>, Integer> e : pairs.entrySet()) {
                if (known.contains(e.getKey().get(0) + e.getKey().get(1))) continue;
                int c = e.getValue();
                if (c > bestCount || (c == bestCount && compare(e.getKey(), best) < 0)) {
                    best = e.getKey();
                    bestCount = c;
                }
            }
            if (best == null) throw new IllegalStateException("demo corpus too small: " + tokens.size() + " tokens");
            String a = best.get(0), b = best.get(1), ab = a + b;
            merges.add(best);
            tokens.add(ab);
            known.add(ab);
            for (List<String> w : words) {
                for (int j = 0; j + 1 < w.size(); j++) {
                    if (w.get(j).equals(a) && w.get(j + 1).equals(b)) {
                        w.set(j, ab);
                        w.remove(j + 1);
                    }
                }
            }
        }
        return new Bpe(Collections.unmodifiableList(tokens), Collections.unmodifiableList(merges));
    }

    private static int compare(List<String> x, List<String> y) {
        int c = x.get(0).compareTo(y.get(0));
        return c != 0 ? c : x.get(1).compareTo(y.get(1));
    }

    /** Weighted training text: {weight, text}. Demo-task phrases weigh most. */
    private static List<String[]> corpus() {
        List<String[]> c = new ArrayList<>();
        String[] colours = {"red", "green", "blue", "yellow", "purple", "orange", "black", "white", "grey", "gray",
                "pink", "brown", "cyan", "magenta"};
        String[] shapes = {"circle", "square", "triangle", "star", "cross", "diamond", "ring", "rectangle", "heart",
                "shape", "shapes", "dot", "line"};
        for (String s : colours) {
            c.add(new String[] {"60", " " + s});
            c.add(new String[] {"10", capitalise(s)});
        }
        for (String s : shapes) {
            c.add(new String[] {"60", " " + s});
            c.add(new String[] {"10", capitalise(s)});
        }
        c.add(new String[] {"80", "What colour is the shape?"});
        c.add(new String[] {"40", "What color is the shape? What shape is it? What is this? Which colour is it?"});
        c.add(new String[] {"40", "The shape is a red circle. It is a blue square. There is one green triangle."});
        c.add(new String[] {"30", "How many shapes are in the image? Is the shape on the left or the right?"});
        c.add(new String[] {"30", "User: Assistant: Describe the picture. The background is white. Yes. No."});
        c.add(new String[] {"20", "top bottom left right center centre middle small large big two three four"});
        c.add(new String[] {"2", """
                The quick brown fox jumps over the lazy dog. A picture is worth a thousand words, and this
                one shows a simple scene: there are some coloured objects on a plain background. We would
                like the model to answer questions about what it can see, to describe the image, and to
                prefer answers that are correct, helpful and short. Please tell me what you think about
                it, because I don't know what they were looking for when they made these images. You
                should not say that it's something else; that would be wrong. Another question could be
                about where an object is, which one is bigger, or whether anything has changed between
                the first and the second picture. Good answers are precise; bad answers guess.
                """});
        return c;
    }

    private static String capitalise(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
