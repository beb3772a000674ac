package dev.smoldpo.grpo;

import dev.smoldpo.grpo.sampling.EncodedPrompt;
import java.util.Map;

/** One training or held-out prompt: as the sampler and collator take it, its text, and the row fields rewards read. */
public record GrpoPrompt(EncodedPrompt encoded, String text, Map<String, Object> row) {}
