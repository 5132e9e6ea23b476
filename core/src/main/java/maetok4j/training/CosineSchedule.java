package maetok4j.training;

/**
 * timm's {@code CosineLRScheduler} stepped per update, as the reference trainer builds it: linear warm-up
 * from {@code warmupLr} to {@code baseLr} over {@code warmupSteps}, and a cosine from {@code baseLr} to
 * {@code minLr} over {@code totalSteps} counted from step 0 (timm's {@code warmup_prefix=False}), then
 * {@code minLr}.
 */
public record CosineSchedule(double baseLr, double minLr, double warmupLr, long warmupSteps, long totalSteps) {

    public CosineSchedule {
        if (baseLr <= 0 || minLr < 0 || warmupLr < 0 || warmupSteps < 0 || totalSteps <= 0) {
            throw new IllegalArgumentException("learning rates must be non-negative (base positive) and total steps positive");
        }
    }

    public double lr(long step) {
        if (step < warmupSteps) {
            return warmupLr + step * (baseLr - warmupLr) / warmupSteps;
        }
        if (step >= totalSteps) {
            return minLr;
        }
        return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * step / totalSteps));
    }

    /** The reference's base learning rate scaled by global batch size: {@code lr * batch / 256}. */
    public static double scaledLr(double lr, int globalBatch) {
        return lr * globalBatch / 256.0;
    }
}
