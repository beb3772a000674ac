package dev.smoldpo.grpo.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GRPO's rewards: the built-in checks, a user command, and TRL's group advantages. */
class RewardsTest {
    @TempDir
    Path dir;

    private static Reward.Sample sample(String completion, Object answer) {
        return new Reward.Sample("Q", completion, answer == null ? Map.of() : Map.of("answer", answer));
    }

    @Test
    void builtInChecksScoreOneForRightZeroForWrongNanWithoutAnswer() throws Exception {
        List<Reward.Sample> s = List.of(sample(" It is red. ", "It is red."), sample("it is RED!", "It is red."),
                sample("It is blue.", "It is red."), sample("x", null));
        assertArrayEquals(new double[] {1, 0, 0, Double.NaN}, AnswerRewards.exactMatch("answer").score(s));
        assertArrayEquals(new double[] {1, 1, 0, Double.NaN}, AnswerRewards.normalisedMatch("answer").score(s));
        List<Reward.Sample> mc = List.of(sample("The answer is (B).", "B"), sample("C. because", "B"), sample("B", "(B)"),
                sample("I think b) fits", "B"), sample("no letter here", "A"));
        assertArrayEquals(new double[] {1, 0, 1, 1, 0}, AnswerRewards.multipleChoice("answer").score(mc));
        List<Reward.Sample> num = List.of(sample("so 3.14", "3.1416"), sample("about 1,000 of them", "1000"),
                sample("42", "41"), sample("none", "2"));
        assertArrayEquals(new double[] {1, 1, 0, 0}, AnswerRewards.numeric("answer", 0.01).score(num));
        Reward format = AnswerRewards.format("(?s)<think>.*?</think>\\s*\\S.*");
        assertArrayEquals(new double[] {1, 0, 0}, format.score(List.of(sample("<think>a\nb</think> red", null),
                sample("red", null), sample("<think>a</think>", null))));
    }

    @Test
    void advantagesFollowTrlsGroupNormalisation() {
        // two groups of 4; reward 0 is correctness, reward 1 a format bonus weighted 0.5; one completion unscorable
        double[] correct = {1, 0, 0, 1, 0, 0, 0, Double.NaN};
        double[] format = {1, 1, 0, 0, 0, 0, 0, Double.NaN};
        GroupAdvantages.Result r = GroupAdvantages.of(List.of(correct, format), new double[] {1, 0.5}, 4,
                GroupAdvantages.Scale.GROUP);
        assertArrayEquals(new double[] {1.5, 0.5, 0, 1, 0, 0, 0, Double.NaN}, r.rewards());
        // group 1: mean 0.75, unbiased std sqrt(((.75)^2 + (.25)^2 + (.75)^2 + (.25)^2) / 3)
        double std1 = Math.sqrt((0.5625 + 0.0625 + 0.5625 + 0.0625) / 3);
        assertEquals((1.5 - 0.75) / (std1 + 1e-4), r.advantages()[0], 1e-12);
        assertEquals((0 - 0.75) / (std1 + 1e-4), r.advantages()[2], 1e-12);
        // group 2: all scorable rewards 0: std 0, advantages 0; the unscorable one gets 0 too
        assertArrayEquals(new double[] {0, 0, 0, 0}, java.util.Arrays.copyOfRange(r.advantages(), 4, 8));
        GroupAdvantages.Result none = GroupAdvantages.of(List.of(correct, format), new double[] {1, 0.5}, 4,
                GroupAdvantages.Scale.NONE);
        assertEquals(0.75, none.advantages()[0], 1e-12);
        GroupAdvantages.Result batch = GroupAdvantages.of(List.of(correct, format), new double[] {1, 0.5}, 4,
                GroupAdvantages.Scale.BATCH);
        assertEquals(batch.std()[0], batch.std()[5]);
    }

    @Test
    void aRewardCommandIsStartedOnceAndAnswersALinePerCompletion() throws Exception {
        // counts the requests it has seen: the same process answers both batches
        String script = "n=0; while IFS= read -r line; do n=$((n+1)); case \"$line\" in *'\"completion\":\"skip\"'*) echo null;; "
                + "*) echo \"{\\\"reward\\\": $n}\";; esac; done";
        try (CommandReward r = new CommandReward("user", List.of("/bin/bash", "-c", script), dir, Duration.ofSeconds(20))) {
            assertArrayEquals(new double[] {1, 2}, r.score(List.of(sample("a", "x"), sample("b", "x"))));
            assertArrayEquals(new double[] {3, Double.NaN}, r.score(List.of(sample("c", "x"), sample("skip", "x"))));
        }
    }

    @Test
    void aBrokenRewardCommandGivesANamedError() throws Exception {
        try (CommandReward bad = new CommandReward("bad", List.of("/bin/bash", "-c",
                "while read -r l; do echo 'oops' >&2; echo great; done"), dir, Duration.ofSeconds(20))) {
            IOException e = assertThrows(IOException.class, () -> bad.score(List.of(sample("a", "x"))));
            assertTrue(e.getMessage().contains("answered 'great' (expected a number, null or {\"reward\": x})"), e.getMessage());
            assertTrue(e.getMessage().contains("its last standard error:\n  oops"), e.getMessage());
        }
        try (CommandReward dies = new CommandReward("dies", List.of("/bin/bash", "-c", "read -r l; exit 3"), dir,
                Duration.ofSeconds(20))) {
            IOException e = assertThrows(IOException.class, () -> dies.score(List.of(sample("a", "x"), sample("b", "x"))));
            assertTrue(e.getMessage().contains("exited with code 3 after 0 of 2 replies"), e.getMessage());
        }
        try (CommandReward slow = new CommandReward("slow", List.of("/bin/bash", "-c", "sleep 30"), dir, Duration.ofMillis(500))) {
            IOException e = assertThrows(IOException.class, () -> slow.score(List.of(sample("a", "x"))));
            assertTrue(e.getMessage().contains("did not answer within 0 s"), e.getMessage());
        }
        IOException missing = assertThrows(IOException.class, () -> new CommandReward("missing",
                List.of("/no/such/reward"), dir, Duration.ofSeconds(1)));
        assertTrue(missing.getMessage().contains("could not be started"), missing.getMessage());
    }
}
