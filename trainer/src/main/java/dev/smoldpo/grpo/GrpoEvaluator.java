package dev.smoldpo.grpo;

import dev.smoldpo.grpo.reward.AnswerRewards;
import dev.smoldpo.grpo.sampling.LivePolicySampler;
import dev.smoldpo.grpo.sampling.SampledGroup;
import dev.smoldpo.grpo.sampling.SamplingSettings;
import java.util.List;

/**
 * Greedy held-out accuracy: one completion per held-out prompt with top_k 1 (the likeliest token each step),
 * correct when it equals the prompt's answer after {@link AnswerRewards#normalise} (case, punctuation and
 * spacing aside).
 */
final class GrpoEvaluator {
    private final List<GrpoPrompt> heldOut;
    private final SamplingSettings greedy;

    GrpoEvaluator(List<GrpoPrompt> heldOut, GrpoConfig c) {
        this.heldOut = heldOut.subList(0, Math.min(heldOut.size(), c.evalSamples()));
        this.greedy = new SamplingSettings(1.0, 1.0, 1, c.maxCompletionLength(), 1, c.seed());
    }

    double accuracy(LivePolicySampler sampler) {
        if (heldOut.isEmpty()) {
            return Double.NaN;
        }
        int correct = 0;
        for (int i = 0; i < heldOut.size(); i++) {
            GrpoPrompt p = heldOut.get(i);
            SampledGroup g = sampler.sample(p.encoded(), greedy, i);
            Object answer = p.row().get(GrpoRewards.ANSWER);
            if (answer != null && AnswerRewards.normalise(g.completionTexts().getFirst()).equals(AnswerRewards.normalise(answer.toString()))) {
                correct++;
            }
        }
        return correct / (double) heldOut.size();
    }
}
