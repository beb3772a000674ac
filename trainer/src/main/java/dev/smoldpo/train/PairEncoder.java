package dev.smoldpo.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.ImageCheck;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.data.text.ChatTemplate;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.model.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.ImagePreprocessor;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.nativelib.PreprocessorConfig;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Preference examples → model inputs: the chat template, image preprocessing through the native
 * library (batched), prompt expansion for the tile grid, tokenisation, and TRL-style truncation.
 * Pairs that cannot be used come back as {@link Skipped} with a reason instead of failing the run.
 */
public final class PairEncoder implements AutoCloseable {
    /** Length limits (TRL names): max_length, max_prompt_length, truncation_mode keep_end/keep_start. */
    public record Settings(int maxLength, int maxPromptLength, boolean keepEnd, int imageLongestEdge) {}

    /** What became of one example. */
    public sealed interface Outcome permits Encoded, Skipped {}

    /** A usable pair, with the hash that keys its reference log-probs. */
    public record Encoded(PreferenceExample example, DpoCollator.Pair pair, String hash, boolean truncated, int tokens)
            implements Outcome {}

    public record Skipped(PreferenceExample example, String reason, String detail) implements Outcome {}

    private final ModelConfig config;
    private final Settings settings;
    private final HfTokenizer tokenizer;
    private final ChatTemplate template;
    private final ImagePreprocessor preprocessor;
    private final String processorSignature;

    public PairEncoder(Path artifactsDir, ModelConfig config, Settings settings, Device device) throws IOException {
        this.config = config;
        this.settings = settings;
        this.tokenizer = HfTokenizer.load(artifactsDir);
        this.template = ChatTemplate.load(artifactsDir);
        Path processorFile = artifactsDir.resolve("preprocessor_config.json");
        @SuppressWarnings("unchecked")
        Map<String, ?> json = Files.exists(processorFile) ? new ObjectMapper().readValue(processorFile.toFile(), Map.class) : Map.of();
        PreprocessorConfig processor = PreprocessorConfig.fromMap(json);
        if (settings.imageLongestEdge() > 0) {
            processor = processor.withLongestEdge(settings.imageLongestEdge());
        }
        if (processor.tileSize() != config.vision().imageSize()) {
            throw new IllegalArgumentException("the processor's tile size " + processor.tileSize()
                    + " does not match the vision tower's image_size " + config.vision().imageSize());
        }
        this.preprocessor = new ImagePreprocessor(processor, device);
        this.processorSignature = processor.longestEdge() + "/" + processor.tileSize() + "/" + processor.doImageSplitting();
        if (tokenizer.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
                    + config.vocabSize());
        }
        if (tokenizer.tokenId(PromptExpander.IMAGE) != config.imageTokenId()) {
            throw new IllegalArgumentException("the tokenizer's <image> is id " + tokenizer.tokenId(PromptExpander.IMAGE)
                    + " but the model's image_token_id is " + config.imageTokenId());
        }
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate template() {
        return template;
    }

    /** Encodes a batch (the images of every pair preprocessed together in one native call). */
    public List<Outcome> encode(List<PreferenceExample> examples) {
        List<Outcome> out = new ArrayList<>();
        List<DecodedImage> images = new ArrayList<>();
        List<int[]> imagesOf = new ArrayList<>(); // per example: [first image index, count], or null when skipped
        for (PreferenceExample e : examples) {
            Skipped skipped = null;
            List<DecodedImage> decoded = new ArrayList<>();
            for (int k = 0; k < e.images().size() && skipped == null; k++) {
                ImageCheck check = ImageCheck.decode(e.images().get(k));
                if (check.image().isEmpty()) {
                    skipped = new Skipped(e, check.reason(), (e.images().size() > 1 ? "image " + (k + 1) + ": " : "") + check.detail());
                } else {
                    decoded.add(check.image().get());
                }
            }
            out.add(skipped);
            imagesOf.add(skipped != null ? null : new int[] {images.size(), decoded.size()});
            if (skipped == null) {
                images.addAll(decoded);
            }
        }
        PreprocessResult processed = images.isEmpty() ? null : preprocessor.preprocess(images);
        try {
            for (int i = 0; i < examples.size(); i++) {
                if (out.get(i) != null) {
                    continue;
                }
                int first = imagesOf.get(i)[0];
                int count = imagesOf.get(i)[1];
                List<PromptExpander.TileGrid> grids = new ArrayList<>();
                List<float[]> pixels = new ArrayList<>();
                int tiles = 0;
                for (int k = first; k < first + count; k++) {
                    ImageGrid g = processed.grids().get(k);
                    pixels.add(processed.imagePixelValues(k).toArray(ValueLayout.JAVA_FLOAT));
                    tiles += g.tileCount();
                    grids.add(new PromptExpander.TileGrid(g.rows(), g.cols()));
                }
                out.set(i, encodeText(examples.get(i), count == 0 ? DpoCollator.Tiles.NONE
                        : new DpoCollator.Tiles(tiles, concat(pixels), null), grids));
            }
        } finally {
            if (processed != null) {
                processed.close();
            }
        }
        return out;
    }

    private static float[] concat(List<float[]> parts) {
        if (parts.size() == 1) {
            return parts.getFirst();
        }
        float[] all = new float[parts.stream().mapToInt(p -> p.length).sum()];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    private Outcome encodeText(PreferenceExample e, DpoCollator.Tiles tiles, List<PromptExpander.TileGrid> grids) {
        String prompt = template.prompt(e.prompt());
        if (!grids.isEmpty()) {
            prompt = PromptExpander.expand(prompt, grids, config.imageSeqLen());
        }
        long[] promptIds = tokenizer.encode(prompt);
        long[] chosen = tokenizer.encode(template.completion(e.prompt(), e.chosen()));
        long[] rejected = tokenizer.encode(template.completion(e.prompt(), e.rejected()));
        boolean truncated = false;
        int longest = Math.max(chosen.length, rejected.length);
        if (promptIds.length + longest > settings.maxLength()) {
            if (promptIds.length > settings.maxPromptLength()) {
                long[] cut = settings.keepEnd()
                        ? java.util.Arrays.copyOfRange(promptIds, promptIds.length - settings.maxPromptLength(), promptIds.length)
                        : java.util.Arrays.copyOf(promptIds, settings.maxPromptLength());
                if (countImageTokens(cut) != countImageTokens(promptIds)) {
                    return new Skipped(e, "prompt_too_long", "truncating the prompt to max_prompt_length "
                            + settings.maxPromptLength() + " would cut the image tokens (prompt has " + promptIds.length + ")");
                }
                promptIds = cut;
                truncated = true;
            }
            int room = settings.maxLength() - promptIds.length;
            if (room < 2) {
                return new Skipped(e, "prompt_too_long", "no room for the answers within max_length " + settings.maxLength());
            }
            if (chosen.length > room || rejected.length > room) {
                chosen = java.util.Arrays.copyOf(chosen, Math.min(chosen.length, room));
                rejected = java.util.Arrays.copyOf(rejected, Math.min(rejected.length, room));
                truncated = true;
            }
        }
        if (java.util.Arrays.equals(chosen, rejected)) {
            return new Skipped(e, "identical_after_truncation", "chosen and rejected are the same tokens");
        }
        DpoCollator.Pair pair = new DpoCollator.Pair(promptIds, chosen, rejected, tiles);
        return new Encoded(e, pair, hash(pair, e), truncated, promptIds.length + chosen.length + rejected.length);
    }

    private long countImageTokens(long[] ids) {
        long n = 0;
        for (long id : ids) {
            n += id == config.imageTokenId() ? 1 : 0;
        }
        return n;
    }

    /** Identifies the example for the reference cache: token ids, image bytes and the processor settings. */
    private String hash(DpoCollator.Pair pair, PreferenceExample e) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (long[] part : new long[][] {pair.prompt(), pair.chosen(), pair.rejected()}) {
                ByteBuffer b = ByteBuffer.allocate(8 + part.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                b.putLong(part.length);
                for (long v : part) {
                    b.putLong(v);
                }
                d.update(b.array());
            }
            d.update(processorSignature.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            for (byte[] image : e.images()) {
                d.update(image);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
