package maetok4j.diffusion;

/** The interpolant x_t = α_t·x₀ + σ_t·ε between data (t = 0) and noise (t = 1), as the reference's {@code path_type}. */
public enum PathType {
    /** α = 1 − t, σ = t: velocity target ε − x₀. */
    LINEAR,
    /** α = cos(πt/2), σ = sin(πt/2) (GVP). */
    COSINE;

    /** "linear" or "cosine" (the reference's names, any case); the error names the known paths. */
    public static PathType parse(String name) {
        try {
            return valueOf(name.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown path type '" + name + "'; known: linear, cosine");
        }
    }

    /** {α, α̇, σ, σ̇} at t. */
    public double[] coefficients(double t) {
        if (this == LINEAR) {
            return new double[] {1 - t, -1, t, 1};
        }
        double h = Math.PI / 2;
        return new double[] {Math.cos(t * h), -h * Math.sin(t * h), Math.sin(t * h), h * Math.cos(t * h)};
    }

    /** The time whose noise-to-signal ratio σ_t/α_t is {@code ratio} (lognormal time sampling draws the ratio). */
    public double timeForRatio(double ratio) {
        return this == LINEAR ? ratio / (1 + ratio) : 2 / Math.PI * Math.atan(ratio);
    }
}
