package dev.smoldpo.cli;

import dev.smoldpo.hf.ModelConfig;
import picocli.CommandLine.Option;

/** The lengths of the benchmarks' synthetic pairs ({@link SyntheticPairs}), shared by their commands. */
final class PairLengthOptions {
    @Option(names = "--question-tokens", defaultValue = "100", description = "Prompt text tokens (default: ${DEFAULT-VALUE}).")
    int questionTokens;

    @Option(names = "--answer-tokens", defaultValue = "150", description = "Tokens per answer (default: ${DEFAULT-VALUE}).")
    int answerTokens;

    SyntheticPairs pairs(ModelConfig config) {
        return new SyntheticPairs(config, questionTokens, answerTokens);
    }
}
