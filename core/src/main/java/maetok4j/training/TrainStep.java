package maetok4j.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;

import java.util.Map;
import java.util.function.Function;

/**
 * One optimisation step in its own native scope: the parameters are attached to a child manager for the
 * step, so every activation, gradient wrapper and optimiser temporary is freed when it ends, and the
 * parameters return to their owner updated in place.
 */
public final class TrainStep {

    /** What a step reports. */
    public record Result(double loss, double gradNorm) {}

    private TrainStep() {}

    /** Marks the trainable parameters as needing gradients (once, before the first step). */
    public static void enableGradients(Module model) {
        model.trainableParameters().values().forEach(p -> p.array().setRequiresGradient(true));
    }

    /**
     * @param loss builds the scalar loss in the given scope (forward pass)
     * @param maxGradNorm global-norm clipping threshold; 0 disables clipping
     */
    public static Result run(Module model, NDManager parent, Function<NDManager, NDArray> loss, AdamW optimizer,
            double lr, double maxGradNorm) {
        Map<String, Parameter> trainable = model.trainableParameters();
        try (NDManager scope = parent.newSubManager()) {
            for (Parameter p : model.stateDict().values()) {
                p.array().tempAttach(scope);
            }
            double value;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray l = loss.apply(scope);
                value = l.getFloat();
                if (!Double.isFinite(value)) {
                    throw new NonFiniteException("loss is " + value);
                }
                gc.backward(l);
            }
            Gradients.Norm norm = Gradients.clipGlobalNorm(trainable, maxGradNorm);
            if (!norm.finite()) {
                Gradients.zero(trainable.values());
                throw new NonFiniteException("gradient norm " + norm.describe());
            }
            optimizer.update(trainable, lr, scope);
            Gradients.zero(trainable.values());
            return new Result(value, norm.value());
        }
    }

    /**
     * The seed of step {@code step}'s generator in a run seeded by {@code globalSeed}: every random choice of a step
     * (masks, noise, times, label dropout) draws from it, so a resumed run repeats the choices of an uninterrupted one.
     */
    public static long rngSeed(long globalSeed, long step) {
        long h = globalSeed * 0x9E3779B97F4A7C15L + step * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L;
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        return h ^ (h >>> 33);
    }

    /** A loss or gradient that is NaN or infinite: training must stop before the weights are touched. */
    public static final class NonFiniteException extends RuntimeException {
        public NonFiniteException(String message) {
            super(message);
        }
    }
}
