package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;

import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * A sampler and its settings: Euler or Heun ODE, or Euler–Maruyama SDE, {@code steps} steps, guidance, and the path
 * the model was trained on (the SDE's score conversion needs it).
 */
public record Sampler(Kind kind, int steps, Guidance guidance, PathType path) {

    public enum Kind {
        EULER,
        HEUN,
        SDE;

        /** "euler", "heun" or "sde" (any case); the error names the known kinds. */
        public static Kind parse(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown sampler '" + name + "'; known: euler, heun, sde");
            }
        }
    }

    public Sampler {
        if (kind == null || guidance == null || path == null) {
            throw new IllegalArgumentException("a sampler needs a kind, guidance and a path");
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
    }

    /** Model evaluations per sample (a guided evaluation counts once though its batch is doubled). */
    public int evaluations() {
        return kind == Kind.HEUN ? 2 * steps - 1 : steps;
    }

    /**
     * Carries {@code noise} [B, ...] to float64 samples [B, ...] (in noise's manager) for labels [B] int64;
     * {@code sdeSeeds} (one per sample) seed the SDE's per-step noise and are unused by the ODE samplers.
     */
    public NDArray sample(VelocityModel model, NDArray noise, NDArray labels, long[] sdeSeeds, IntConsumer onStep) {
        return switch (kind) {
            case EULER -> OdeSampler.sample(model, noise, labels, steps, false, guidance, onStep);
            case HEUN -> OdeSampler.sample(model, noise, labels, steps, true, guidance, onStep);
            case SDE -> SdeSampler.sample(model, noise, labels, steps, guidance, path, sdeSeeds, onStep);
        };
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(Locale.ROOT) + ", " + steps + " steps, guidance " + guidance;
    }
}
