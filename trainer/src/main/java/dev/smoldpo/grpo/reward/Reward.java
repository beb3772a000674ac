package dev.smoldpo.grpo.reward;

import java.util.List;
import java.util.Map;

/**
 * A reward function of GRPO: one score per sampled completion, higher is better. {@link Double#NaN}
 * means "not scorable" (TRL's None): the completion is left out of this reward's statistics, and a
 * completion no reward can score gets no advantage.
 */
public interface Reward extends AutoCloseable {
    /** One sampled completion with what a reward may look at. */
    record Sample(String prompt, String completion, Map<String, Object> row) {}

    /** The reward's name, as logged ({@code rewards/<name>/mean}). */
    String name();

    /** One score per sample, in order. */
    double[] score(List<Sample> samples) throws Exception;

    @Override
    default void close() throws Exception {}
}
