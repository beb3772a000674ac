package dev.smoldpo.train;

import dev.smoldpo.data.ImageCheck;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Preference examples → model inputs through the {@link SmolVlmProcessor} (chat template, batched native
 * image preprocessing, prompt expansion, tokenisation), then TRL-style truncation. Pairs that cannot be
 * used come back as {@link Skipped} with a reason instead of failing the run.
 */
public final class PairEncoder implements AutoCloseable {
    /**
     * Length limits (TRL names): max_length, max_prompt_length, truncation_mode keep_end/keep_start, and
     * max_completion_length (0: none, only what max_length leaves).
     */
    public record Settings(int maxLength, int maxPromptLength, boolean keepEnd, int imageLongestEdge, int maxCompletionLength) {
        public Settings(int maxLength, int maxPromptLength, boolean keepEnd, int imageLongestEdge) {
            this(maxLength, maxPromptLength, keepEnd, imageLongestEdge, 0);
        }
    }

    /** What became of one example. */
    public sealed interface Outcome permits Encoded, Skipped {}

    /** A usable pair, with the hash that keys its reference log-probs. */
    public record Encoded(PreferenceExample example, DpoCollator.Pair pair, String hash, boolean truncated, int tokens)
            implements Outcome {}

    public record Skipped(PreferenceExample example, String reason, String detail) implements Outcome {}

    /** The prompt leaves no room for the answers within max_length, and cannot be cut without cutting an image. */
    public static final String PROMPT_TOO_LONG = "prompt_too_long";
    /** chosen and rejected differ only beyond max_length. */
    public static final String IDENTICAL_AFTER_TRUNCATION = "identical_after_truncation";

    private final ModelConfig config;
    private final Settings settings;
    private final SmolVlmProcessor processor;

    public PairEncoder(Path artifactsDir, ModelConfig config, Settings settings, Device device) throws IOException {
        this.config = config;
        this.settings = settings;
        this.processor = SmolVlmProcessor.load(artifactsDir, config, settings.imageLongestEdge(), device);
    }

    public SmolVlmProcessor processor() {
        return processor;
    }

    /** Encodes a batch (the images of every pair preprocessed together in one native call). */
    public List<Outcome> encode(List<PreferenceExample> examples) {
        List<Outcome> out = new ArrayList<>();
        List<DecodedImage> images = new ArrayList<>();
        List<int[]> imagesOf = new ArrayList<>(); // per example: [first image, count]; null when skipped
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
        try (SmolVlmProcessor.Images processed = processor.preprocess(images)) {
            for (int i = 0; i < examples.size(); i++) {
                if (out.get(i) == null) {
                    out.set(i, encode(examples.get(i), processed, imagesOf.get(i)[0], imagesOf.get(i)[1]));
                }
            }
        }
        return out;
    }

    /** One example whose images are {@code processed}'s images first..first+count-1. */
    private Outcome encode(PreferenceExample e, SmolVlmProcessor.Images processed, int first, int count) {
        List<PromptExpander.TileGrid> grids = processed.grids().subList(first, first + count);
        DpoCollator.Tiles tiles = DpoCollator.Tiles.NONE;
        if (count > 0) {
            List<float[]> pixels = new ArrayList<>();
            int tileCount = 0;
            for (int k = first; k < first + count; k++) {
                pixels.add(processed.pixels().imagePixelValues(k).toArray(ValueLayout.JAVA_FLOAT));
                tileCount += processed.pixels().grids().get(k).tileCount();
            }
            tiles = new DpoCollator.Tiles(tileCount, concat(pixels), null);
        }
        return truncate(e, processor.promptIds(e.prompt(), grids, ""), processor.completionIds(e.prompt(), e.chosen()),
                processor.completionIds(e.prompt(), e.rejected()), tiles);
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

    /**
     * TRL's truncation: each answer to its first max_completion_length tokens (DPOTrainer.tokenize_row
     * cuts every completion so, whatever the prompt), then, when prompt and answers pass max_length, the
     * prompt to max_prompt_length (never through image tokens) and the answers to what is left.
     */
    private Outcome truncate(PreferenceExample e, long[] promptIds, long[] chosen, long[] rejected, DpoCollator.Tiles tiles) {
        boolean truncated = false;
        int maxCompletion = settings.maxCompletionLength();
        if (maxCompletion > 0 && (chosen.length > maxCompletion || rejected.length > maxCompletion)) {
            chosen = Arrays.copyOf(chosen, Math.min(chosen.length, maxCompletion));
            rejected = Arrays.copyOf(rejected, Math.min(rejected.length, maxCompletion));
            truncated = true;
        }
        int longest = Math.max(chosen.length, rejected.length);
        if (promptIds.length + longest > settings.maxLength()) {
            if (promptIds.length > settings.maxPromptLength()) {
                long[] cut = settings.keepEnd()
                        ? Arrays.copyOfRange(promptIds, promptIds.length - settings.maxPromptLength(), promptIds.length)
                        : Arrays.copyOf(promptIds, settings.maxPromptLength());
                long imageTokens = countImageTokens(promptIds);
                if (countImageTokens(cut) != imageTokens) {
                    return new Skipped(e, PROMPT_TOO_LONG, String.format(Locale.ROOT, "the prompt is %,d tokens, %,d of them "
                            + "image tokens (%s); with the answers that exceeds max_length %,d, and cutting the prompt to "
                            + "max_prompt_length %,d would cut image tokens", promptIds.length, imageTokens, imageSize(),
                            settings.maxLength(), settings.maxPromptLength()));
                }
                promptIds = cut;
                truncated = true;
            }
            int room = settings.maxLength() - promptIds.length;
            if (room < 2) {
                return new Skipped(e, PROMPT_TOO_LONG, String.format(Locale.ROOT, "the prompt is %,d tokens, which leaves "
                        + "no room for the answers within max_length %,d", promptIds.length, settings.maxLength()));
            }
            if (chosen.length > room || rejected.length > room) {
                chosen = Arrays.copyOf(chosen, Math.min(chosen.length, room));
                rejected = Arrays.copyOf(rejected, Math.min(rejected.length, room));
                truncated = true;
            }
        }
        if (Arrays.equals(chosen, rejected)) {
            return new Skipped(e, IDENTICAL_AFTER_TRUNCATION, String.format(Locale.ROOT, "chosen and rejected are the same "
                    + "tokens within max_length %,d (the prompt takes %,d)%s", settings.maxLength(), promptIds.length,
                    maxCompletion > 0 ? String.format(Locale.ROOT, " and max_completion_length %,d", maxCompletion) : ""));
        }
        DpoCollator.Pair pair = new DpoCollator.Pair(promptIds, chosen, rejected, tiles);
        return new Encoded(e, pair, hash(pair, e), truncated, promptIds.length + chosen.length + rejected.length);
    }

    /** What sets the number of image tokens: the image_longest_edge setting, or the processor's own size. */
    private String imageSize() {
        return settings.imageLongestEdge() > 0 ? "image_longest_edge " + settings.imageLongestEdge()
                : "the processor's image size, image_longest_edge unset";
    }

    private long countImageTokens(long[] ids) {
        long n = 0;
        for (long id : ids) {
            n += id == config.imageTokenId() ? 1 : 0;
        }
        return n;
    }

    /** Identifies the example for the reference cache: token ids, image bytes and what turns them into pixels. */
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
            d.update(processor.pixelSignature().getBytes(StandardCharsets.UTF_8));
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
        processor.close();
    }
}
