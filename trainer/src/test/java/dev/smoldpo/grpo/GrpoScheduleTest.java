package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.LrSchedule;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** GRPO's learning rate follows HF's schedule (TRL's default: linear decay to 0), as fit's does; it was constant. */
class GrpoScheduleTest {
    private static GrpoConfig bind(Map<String, String> flags) {
        return new GrpoSettings().layer(flags, "test").bind();
    }

    @Test
    void theDefaultIsHfsLinearDecayOverEveryUpdate() {
        GrpoConfig c = bind(Map.of("learning_rate", "1e-3", "max_steps", "10", "num_iterations", "2"));
        LrSchedule s = c.schedule();
        assertEquals(1e-3, s.lr(0), 1e-12, "the first update runs at the peak rate");
        assertEquals(1e-3 * 10 / 20, s.lr(10), 1e-12, "halfway through the 20 updates, half the rate");
        assertEquals(1e-3 / 20, s.lr(19), 1e-12, "the last update, one twentieth");
    }

    @Test
    void constantAndWarmupAreHfs() {
        assertEquals(2e-3, bind(Map.of("learning_rate", "2e-3", "max_steps", "10", "lr_scheduler_type", "constant"))
                .schedule().lr(9), 1e-12);
        LrSchedule warm = bind(Map.of("learning_rate", "1e-3", "max_steps", "10", "warmup_ratio", "0.2")).schedule();
        assertEquals(0.0, warm.lr(0), 1e-12);
        assertEquals(0.5e-3, warm.lr(1), 1e-12);
        ConfigException e = assertThrows(ConfigException.class,
                () -> bind(Map.of("lr_scheduler_type", "step")).schedule());
        assertTrue(e.getMessage().contains("lr_scheduler_type"), e.getMessage());
    }
}
