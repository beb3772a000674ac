package dev.smoldpo.grpo.sampling;

import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.util.List;

/**
 * One prompt as the processor makes it, in the form training feeds it: the ids with each
 * {@code <image>} expanded for its tiles, and the tiles' pixels as {@link DpoCollator.Tiles}
 * ([tiles, 3, S, S]; pixel mask null = every patch real, as {@code PairEncoder} gives training), so
 * the same record goes to the sampler and to the GRPO training graph's collator.
 */
public record EncodedPrompt(long[] inputIds, DpoCollator.Tiles image) {
    public EncodedPrompt {
        if (inputIds.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        inputIds = inputIds.clone();
        image = image == null ? DpoCollator.Tiles.NONE : image;
    }

    /** The chat template over {@code prompt} with the generation prompt, its images preprocessed and expanded. */
    public static EncodedPrompt encode(SmolVlmProcessor processor, List<ChatMessage> prompt, List<DecodedImage> images) {
        try (SmolVlmProcessor.Images processed = processor.preprocess(images)) {
            long[] ids = processor.promptIds(prompt, processed.grids(), "");
            if (processed.tiles() == 0) {
                return new EncodedPrompt(ids, DpoCollator.Tiles.NONE);
            }
            float[] pixels = processed.pixels().pixelValuesArray();
            return new EncodedPrompt(ids, new DpoCollator.Tiles(processed.tiles(), pixels, null));
        }
    }
}
