package dev.smoldpo.cli;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** The benchmarks' preference pairs at RLHF-V-like lengths: one tile, a question and two answers; seeded by index. */
record SyntheticPairs(ModelConfig config, int questionTokens, int answerTokens) {

    List<DpoCollator.Pair> first(int count) {
        List<DpoCollator.Pair> pairs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            pairs.add(pair(i));
        }
        return pairs;
    }

    DpoCollator.Pair pair(int index) {
        SplittableRandom r = new SplittableRandom(5 + index);
        int vocab = config.vocabSize();
        List<Long> prompt = new ArrayList<>();
        for (int i = 0; i < config.imageSeqLen(); i++) {
            prompt.add((long) config.imageTokenId());
        }
        for (int i = 0; i < questionTokens; i++) {
            prompt.add((long) (vocab / 4 + r.nextInt(vocab / 4)));
        }
        long[] chosen = r.longs(answerTokens, vocab / 4, vocab / 2).toArray(); // ordinary tokens, clear of special ids
        long[] rejected = r.longs(answerTokens, vocab / 4, vocab / 2).toArray();
        int s = config.vision().imageSize();
        float[] px = new float[3 * s * s];
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return new DpoCollator.Pair(prompt.stream().mapToLong(Long::longValue).toArray(), chosen, rejected,
                new DpoCollator.Tiles(1, px, null));
    }
}
