package dev.smoldpo.infer;

import ai.onnxruntime.OrtException;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Answering among given choices by the model's own log-probabilities, which is what DPO trains it to
 * rank: each answer is rendered as the chat template renders an assistant turn (as in training) after the
 * prompt, and scored in one decoder run over prompt + answer.
 *
 * <p>With an answer prefix P, each answer is {@code P + choice}, tokenised together (so a token spanning the
 * boundary belongs to the choice), and the sum covers the tokens after those every answer shares with P
 * alone. Those shared tokens are identical in every answer and follow the same context, so the ranking
 * is exactly that of scoring {@code P + choice} whole.
 */
final class AnswerScorer {
    private final SmolVlmProcessor processor;
    private final CachedDecoder decoder;

    AnswerScorer(SmolVlmProcessor processor, CachedDecoder decoder) {
        this.processor = processor;
        this.decoder = decoder;
    }

    /** One score per choice, after the prompt's embeddings ({@code promptLength} rows). */
    double[] score(float[] promptEmbeds, int promptLength, List<String> choices, String prefix) throws OrtException {
        List<long[]> answers = new ArrayList<>();
        int shared = Integer.MAX_VALUE;
        for (String choice : choices) {
            String rendered = processor.template().completion(prefix + choice);
            int at = rendered.indexOf(prefix + choice);
            long[] ids = processor.tokenizer().encode(rendered);
            long[] prefixIds = processor.tokenizer().encode(rendered.substring(0, Math.max(0, at) + prefix.length()));
            int common = 0;
            while (common < Math.min(ids.length - 1, prefixIds.length) && ids[common] == prefixIds[common]) {
                common++;
            }
            shared = Math.min(shared, common);
            answers.add(ids);
        }
        double[] scores = new double[choices.size()];
        for (int c = 0; c < answers.size(); c++) {
            scores[c] = logProbability(promptEmbeds, promptLength, answers.get(c), shared);
        }
        return scores;
    }

    /** The summed log-probability of {@code answer[from:]} after the prompt and {@code answer[:from]}. */
    private double logProbability(float[] promptEmbeds, int p, long[] answer, int from) throws OrtException {
        int h = decoder.hidden();
        float[] embeds = Arrays.copyOf(promptEmbeds, (p + answer.length) * h);
        System.arraycopy(decoder.embed(answer), 0, embeds, p * h, answer.length * h);
        // logits of the last answer.length + 1 positions: row j predicts answer[j]
        float[] logits = decoder.logits(embeds, p + answer.length, answer.length + 1);
        int vocab = logits.length / (answer.length + 1);
        double total = 0;
        for (int j = from; j < answer.length; j++) {
            total += LogProbs.of(logits, j, vocab, answer[j]);
        }
        return total;
    }
}
