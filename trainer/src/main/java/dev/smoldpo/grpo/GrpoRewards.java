package dev.smoldpo.grpo;

import dev.smoldpo.grpo.reward.AnswerRewards;
import dev.smoldpo.grpo.reward.CommandReward;
import dev.smoldpo.grpo.reward.Reward;
import dev.smoldpo.train.config.ConfigException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** reward_funcs entries → rewards: built-in checks against the {@code answer} field, a format regex, or a command. */
final class GrpoRewards {
    static final String ANSWER = "answer";

    private GrpoRewards() {}

    /** Whether the reward_funcs entry compares completions with the row's answer (format: and cmd: do not). */
    static boolean readsAnswer(String func) {
        return !func.startsWith("cmd:") && !func.startsWith("format:");
    }

    static List<Reward> of(GrpoConfig c, Path workDir) throws IOException {
        List<Reward> out = new ArrayList<>();
        try {
            for (String f : c.rewardFuncs()) {
                out.add(one(f, c, workDir));
            }
        } catch (IOException | RuntimeException e) {
            closeAll(out);
            throw e;
        }
        return out;
    }

    private static Reward one(String f, GrpoConfig c, Path workDir) throws IOException {
        if (f.startsWith("cmd:")) {
            List<String> command = Arrays.stream(f.substring(4).strip().split("\\s+")).filter(s -> !s.isEmpty()).toList();
            if (command.isEmpty()) {
                throw new ConfigException("reward_funcs: 'cmd:' needs a command line");
            }
            return new CommandReward("cmd", command, workDir, Duration.ofSeconds(c.rewardTimeoutSeconds()));
        }
        if (f.startsWith("format:")) {
            return AnswerRewards.format(f.substring("format:".length()));
        }
        if (f.startsWith("numeric")) {
            return AnswerRewards.numeric(ANSWER, f.contains(":") ? Double.parseDouble(f.substring(f.indexOf(':') + 1)) : 0);
        }
        return switch (f) {
            case "exact_match" -> AnswerRewards.exactMatch(ANSWER);
            case "normalised_match" -> AnswerRewards.normalisedMatch(ANSWER);
            case "multiple_choice" -> AnswerRewards.multipleChoice(ANSWER);
            default -> throw new ConfigException("reward_funcs: unknown reward '" + f + "'; known: exact_match, "
                    + "normalised_match, multiple_choice, numeric[:tolerance], format:<regex>, cmd:<command line>");
        };
    }

    static void closeAll(List<Reward> rewards) {
        for (Reward r : rewards) {
            try {
                r.close();
            } catch (Exception ignored) {
                // closing a reward command that already failed: its error was reported
            }
        }
    }
}
