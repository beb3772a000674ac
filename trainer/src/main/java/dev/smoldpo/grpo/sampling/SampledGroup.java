package dev.smoldpo.grpo.sampling;

import java.util.List;

/**
 * The G completions of one prompt.
 *
 * @param completionIds   each completion's tokens, ending at the first end-of-sequence token (included) or at
 *                        max_completion_length
 * @param completionTexts their text, special tokens skipped
 * @param samplingLogps   per token, log softmax(logits) of the policy that sampled it (the raw, temperature-1
 *                        logits, before top-k/top-p), usable as TRL's old_per_token_logps when temperature is 1
 */
public record SampledGroup(List<int[]> completionIds, List<String> completionTexts, List<float[]> samplingLogps) {
    public SampledGroup {
        completionIds = List.copyOf(completionIds);
        completionTexts = List.copyOf(completionTexts);
        samplingLogps = List.copyOf(samplingLogps);
        if (completionTexts.size() != completionIds.size() || samplingLogps.size() != completionIds.size()) {
            throw new IllegalArgumentException("a group has " + completionIds.size() + " completions but "
                    + completionTexts.size() + " texts and " + samplingLogps.size() + " log-prob rows");
        }
        for (int i = 0; i < completionIds.size(); i++) {
            if (completionIds.get(i).length != samplingLogps.get(i).length) {
                throw new IllegalArgumentException("completion " + i + " has " + completionIds.get(i).length + " tokens but "
                        + samplingLogps.get(i).length + " log-probs");
            }
        }
    }
}
