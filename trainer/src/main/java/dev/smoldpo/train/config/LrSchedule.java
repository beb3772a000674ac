package dev.smoldpo.train.config;

import dev.smoldpo.train.config.TrainConfig.LrSchedulerType;

/**
 * Learning-rate schedules with HF transformers' semantics ({@code get_scheduler} with
 * {@code lr_scheduler_type} linear, cosine, constant, constant_with_warmup), as a pure function of the
 * optimizer step.
 *
 * <p><b>Convention.</b> {@code lr(s) = baseLr * lambda(s)}, where {@code s} is the number of optimizer
 * steps already taken, i.e. the 0-based index of the step about to be taken. This is how HF's
 * {@code LambdaLR} is used by the Trainer: the scheduler is built with lambda(0) in force, the first
 * {@code optimizer.step()} uses it, then {@code scheduler.step()} moves to lambda(1), and so on. So a
 * trainer sets {@code lr(globalStep)} before each update, where {@code globalStep} counts completed
 * updates. With warmup, the very first update therefore uses learning rate 0 (as in HF). Since
 * transformers 4.51 (PR #36973, "Log the correct learning rate") the Trainer logs the rate of the update
 * just made, read before {@code scheduler.step()}; before that it logged the next update's rate. fit logs
 * the current convention: {@code lr(s)} at the record of step s + 1.
 *
 * <p>With W warmup steps and T total steps:
 * <ul>
 *   <li>warmup (all but constant): lambda(s) = s / max(1, W) for s &lt; W;</li>
 *   <li>linear: then max(0, (T - s) / max(1, T - W));</li>
 *   <li>cosine: then 0.5 (1 + cos(pi p)), p = (s - W) / max(1, T - W) (half a cosine period, HF's
 *       num_cycles 0.5); for s &gt;= T we return 0 where HF's formula would rise again;</li>
 *   <li>constant: 1; constant_with_warmup: 1 after warmup.</li>
 * </ul>
 * W comes from {@link #warmupSteps(long, int, double)}: warmup_steps when positive, else
 * ceil(T x warmup_ratio) (HF {@code TrainingArguments.get_warmup_steps}).
 */
public record LrSchedule(LrSchedulerType type, double baseLr, long totalSteps, long warmupSteps) {
    public LrSchedule {
        if (type == null) {
            throw new IllegalArgumentException("lr_scheduler_type must be set");
        }
        if (!(baseLr >= 0) || !Double.isFinite(baseLr)) {
            throw new IllegalArgumentException("learning rate must be >= 0, got " + baseLr);
        }
        if (totalSteps < 0 || warmupSteps < 0) {
            throw new IllegalArgumentException("total and warmup steps must be >= 0, got " + totalSteps + ", " + warmupSteps);
        }
    }

    public static LrSchedule of(LrSchedulerType type, double baseLr, long totalSteps, long warmupSteps) {
        return new LrSchedule(type, baseLr, totalSteps, warmupSteps);
    }

    /** HF's rule: {@code warmupSteps} when positive, else ceil(totalSteps x warmupRatio). */
    public static long warmupSteps(long totalSteps, int warmupSteps, double warmupRatio) {
        if (warmupSteps > 0) {
            return warmupSteps;
        }
        if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
            throw new IllegalArgumentException("warmup_ratio must be in [0, 1], got " + warmupRatio);
        }
        return (long) Math.ceil(totalSteps * warmupRatio);
    }

    /** The multiplier of the base learning rate for the update with 0-based index {@code step}. */
    public double lambda(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
        if (type == LrSchedulerType.CONSTANT) {
            return 1.0;
        }
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        return switch (type) {
            case CONSTANT_WITH_WARMUP -> 1.0;
            case LINEAR -> Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case COSINE -> {
                if (step >= totalSteps) {
                    yield 0.0;
                }
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            }
            case CONSTANT -> 1.0;
        };
    }

    /** The learning rate of the update with 0-based index {@code step} (= updates already made). */
    public double lr(long step) {
        return baseLr * lambda(step);
    }
}
