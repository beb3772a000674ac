package dev.smoldpo.train.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.smoldpo.train.config.TrainConfig.LrSchedulerType;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
    private static final double EPS = 1e-15;

    @Test
    void linearWithWarmupKnownAnswers() {
        LrSchedule s = LrSchedule.of(LrSchedulerType.LINEAR, 1e-3, 10, 2);
        double[] expected = {0, 0.5, 1, 7 / 8.0, 6 / 8.0, 5 / 8.0, 4 / 8.0, 3 / 8.0, 2 / 8.0, 1 / 8.0, 0, 0};
        for (int step = 0; step < expected.length; step++) {
            assertEquals(expected[step], s.lambda(step), EPS, "step " + step);
            assertEquals(1e-3 * expected[step], s.lr(step), EPS, "step " + step);
        }
    }

    @Test
    void linearWithoutWarmupStartsAtBase() {
        LrSchedule s = LrSchedule.of(LrSchedulerType.LINEAR, 2e-4, 4, 0);
        assertEquals(2e-4, s.lr(0), EPS);
        assertEquals(1.5e-4, s.lr(1), EPS);
        assertEquals(0.5e-4, s.lr(3), EPS);
        assertEquals(0, s.lr(4), EPS);
    }

    @Test
    void cosineWithWarmupKnownAnswers() {
        LrSchedule s = LrSchedule.of(LrSchedulerType.COSINE, 1.0, 10, 2);
        assertEquals(0.0, s.lambda(0), EPS);
        assertEquals(0.5, s.lambda(1), EPS);
        assertEquals(1.0, s.lambda(2), EPS);
        assertEquals(0.5 * (1 + Math.cos(Math.PI / 8)), s.lambda(3), EPS);
        assertEquals(0.8535533905932737, s.lambda(4), 1e-15);
        assertEquals(0.5, s.lambda(6), 1e-15);
        assertEquals(0.1464466094067262, s.lambda(8), 1e-15);
        assertEquals(0.0, s.lambda(10), EPS);
        assertEquals(0.0, s.lambda(13), EPS); // HF's formula would rise again past the end
    }

    @Test
    void constantAndConstantWithWarmup() {
        LrSchedule c = LrSchedule.of(LrSchedulerType.CONSTANT, 3e-5, 10, 5);
        for (int step = 0; step < 12; step++) {
            assertEquals(3e-5, c.lr(step), EPS, "constant ignores warmup, as HF's get_constant_schedule");
        }
        LrSchedule w = LrSchedule.of(LrSchedulerType.CONSTANT_WITH_WARMUP, 1.0, 10, 4);
        assertEquals(0.0, w.lambda(0), EPS);
        assertEquals(0.25, w.lambda(1), EPS);
        assertEquals(0.75, w.lambda(3), EPS);
        assertEquals(1.0, w.lambda(4), EPS);
        assertEquals(1.0, w.lambda(100), EPS);
    }

    @Test
    void warmupStepsFromRatioRoundUpLikeHf() {
        assertEquals(10, LrSchedule.warmupSteps(100, 0, 0.1));
        assertEquals(10, LrSchedule.warmupSteps(95, 0, 0.1)); // ceil(9.5)
        assertEquals(1, LrSchedule.warmupSteps(3, 0, 0.01)); // ceil(0.03)
        assertEquals(0, LrSchedule.warmupSteps(7, 0, 0.0));
        assertEquals(3, LrSchedule.warmupSteps(10, 3, 0.5)); // warmup_steps wins
        // 100 * 0.07 = 7.000000000000001 in binary floating point: HF's math.ceil gives 8 as well.
        assertEquals(8, LrSchedule.warmupSteps(100, 0, 0.07));
    }

    @Test
    void fromConfig() {
        TrainConfig c = TrainConfig.defaults().withOverrides(java.util.Map.of(
                "lr_scheduler_type", "cosine", "warmup_ratio", "0.1", "learning_rate", "5e-4", "max_steps", "100"));
        LrSchedule s = c.plan(7).schedule();
        assertEquals(LrSchedulerType.COSINE, s.type());
        assertEquals(10, s.warmupSteps());
        assertEquals(5e-4, s.lr(10), EPS);
        assertEquals(2.5e-4, s.lr(55), 1e-15);
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of(LrSchedulerType.LINEAR, -1, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of(LrSchedulerType.LINEAR, 1, 10, 0).lr(-1));
    }
}
