package maetok4j.analysis;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Multinomial logistic regression with an L2 penalty, the linear probe of latent representations. It solves
 * the problem of scikit-learn 1.2's {@code LogisticRegression(penalty='l2', C=c, multi_class='multinomial',
 * solver='lbfgs', fit_intercept=True)}: minimise
 * <pre>  C · Σ_i −log softmax(W x_i + b)[y_i] + ½‖W‖²</pre>
 * over W [classes, d] and b [classes], the intercepts not penalised. As scikit-learn does, the optimiser works
 * on this objective divided by C (Σ_i loss_i + ‖W‖²/(2C), no division by n), so {@link Config#tolerance()} bounds
 * the same gradient as scikit-learn's {@code tol}. The problem is strictly convex in W, so W is unique; b is
 * unique up to a common shift of all intercepts, and like scikit-learn's (which start at zero and move along
 * gradients, whose intercept parts sum to zero) they are returned summing to zero.
 *
 * <p>Unlike scikit-learn the class count is given, not read from the labels: a class without training rows
 * is allowed, and its intercept drifts down until its gradient (the total probability the model gives it) is
 * below the tolerance. scikit-learn's lbfgs also stops when f's relative decrease drops below scipy's default
 * {@code ftol} (2.2e-9), often far from its {@code tol}; this one only stops at the tolerance, at
 * {@code maxIterations}, or when no step decreases the objective.
 *
 * <p>Losses and gradients are full-batch float64 products on the engine ([n, d] × [d, classes]); parameters
 * live in Java arrays between iterations. A fit, and each prediction, holds a float64 copy of the rows
 * (8·n·d bytes) unless they are float64 already. The products stay float64 even for float32 rows:
 * float32 accumulation over n rows rounds the gradient's sums by about 1e-7·√n of their terms' size, far above
 * the default tolerance, which the optimiser could then not reach.
 */
public final class LogisticRegression {

    /**
     * @param c             scikit-learn's C: the inverse strength of the L2 penalty, > 0
     * @param maxIterations most L-BFGS iterations (line searches), ≥ 1, like scikit-learn's {@code max_iter}
     * @param tolerance     convergence when max_j |∂F/∂w_j| ≤ tolerance, F = Σ_i loss_i + ‖W‖²/(2C) the
     *                      objective scikit-learn's lbfgs minimises (a sum over rows, not a mean), over every
     *                      coefficient and intercept: scipy's {@code pgtol}, which scikit-learn sets to {@code tol}
     */
    public record Config(double c, int maxIterations, double tolerance) {

        public Config {
            if (!(c > 0) || !Double.isFinite(c)) {
                throw new IllegalArgumentException("C must be positive and finite, got " + c);
            }
            if (maxIterations < 1) {
                throw new IllegalArgumentException("maxIterations must be at least 1, got " + maxIterations);
            }
            if (!(tolerance > 0) || !Double.isFinite(tolerance)) {
                throw new IllegalArgumentException("tolerance must be positive and finite, got " + tolerance);
            }
        }

        /** C = 1, 1000 iterations, a gradient max-norm of 1e-6. */
        public static Config defaults() {
            return new Config(1.0, 1000, 1e-6);
        }
    }

    private final int classes;
    private final int dimension;
    private final double c;
    // [classes, d] row-major
    private final double[] coefficients;
    private final double[] intercepts;
    private final int iterations;
    private final boolean converged;

    private LogisticRegression(int classes, int dimension, double c, double[] coefficients, double[] intercepts,
            int iterations, boolean converged) {
        this.classes = classes;
        this.dimension = dimension;
        this.c = c;
        this.coefficients = coefficients;
        this.intercepts = intercepts;
        this.iterations = iterations;
        this.converged = converged;
    }

    /** A model with given parameters, as if fitted with {@code c}: for evaluating {@link #loss} at any point. */
    static LogisticRegression of(double[] coefficients, double[] intercepts, double c) {
        int classes = intercepts.length;
        if (classes < 2 || coefficients.length == 0 || coefficients.length % classes != 0) {
            throw new IllegalArgumentException("need [classes, d] coefficients for " + classes + " classes, got "
                    + coefficients.length);
        }
        return new LogisticRegression(classes, coefficients.length / classes, c, coefficients.clone(),
                intercepts.clone(), 0, false);
    }

    /** Fits on rows {@code x} [n, d] (any float type) with labels in [0, classes). */
    public static LogisticRegression fit(NDArray x, long[] labels, int classes, Config config) {
        return fit(x, labels, classes, config, iteration -> {});
    }

    /**
     * Fits on rows {@code x} [n, d] (any float type) with labels in [0, classes), starting from zero as
     * scikit-learn does; {@code onIteration} receives each finished L-BFGS iteration's number, from 1.
     */
    public static LogisticRegression fit(NDArray x, long[] labels, int classes, Config config, IntConsumer onIteration) {
        int d = checkRows(x, labels, classes);
        double[] start = new double[classes * d + classes];
        Lbfgs.Result r;
        try (Data data = new Data(x, labels, classes)) {
            double c = config.c();
            r = Lbfgs.minimize((w, gradient) -> data.scaledObjective(w, c, gradient), start, config.maxIterations(),
                    config.tolerance(), onIteration);
        }
        double[] w = r.x();
        double[] b = Arrays.copyOfRange(w, classes * d, w.length);
        double shift = Arrays.stream(b).sum() / classes; // already ~0: removes the rounding drift of many steps
        for (int k = 0; k < classes; k++) {
            b[k] -= shift;
        }
        return new LogisticRegression(classes, d, config.c(), Arrays.copyOf(w, classes * d), b, r.iterations(),
                r.converged());
    }

    /** The most probable class of each row of {@code x} [n, d]; ties go to the lower class. */
    public long[] predict(NDArray x) {
        checkDimension(x);
        try (NDManager tmp = x.getManager().newSubManager()) {
            return logits(x, tmp).argMax(0).toLongArray();
        }
    }

    /** The softmax probabilities [n, classes] (float64) of rows {@code x} [n, d]; attached to x's manager. */
    public NDArray probabilities(NDArray x) {
        checkDimension(x);
        try (NDManager tmp = x.getManager().newSubManager()) {
            NDArray p = logits(x, tmp).softmax(0).transpose(); // [n, C]
            NDArray owned = p.toType(DataType.FLOAT64, true); // contiguous, and not a view of tmp's storage
            owned.attach(x.getManager());
            return owned;
        }
    }

    /** The fraction of rows of {@code x} whose predicted class is their label. */
    public double accuracy(NDArray x, long[] labels) {
        checkRows(x, labels, classes);
        checkDimension(x);
        long[] predicted = predict(x);
        long hits = 0;
        for (int i = 0; i < predicted.length; i++) {
            hits += predicted[i] == labels[i] ? 1 : 0;
        }
        return (double) hits / predicted.length;
    }

    /** The objective at this model's parameters on ({@code x}, {@code labels}): C·Σ_i −log p_i[y_i] + ½‖W‖². */
    public double loss(NDArray x, long[] labels) {
        return loss(x, labels, new double[classes * dimension + classes]);
    }

    /**
     * The objective and, in {@code gradient} [classes·d + classes], its gradient: W's row-major, then b's.
     */
    double loss(NDArray x, long[] labels, double[] gradient) {
        checkRows(x, labels, classes);
        checkDimension(x);
        double[] w = Arrays.copyOf(coefficients, coefficients.length + classes);
        System.arraycopy(intercepts, 0, w, coefficients.length, classes);
        try (Data data = new Data(x, labels, classes)) {
            double value = c * data.scaledObjective(w, c, gradient);
            for (int j = 0; j < gradient.length; j++) {
                gradient[j] *= c;
            }
            return value;
        }
    }

    public int classes() {
        return classes;
    }

    public int dimension() {
        return dimension;
    }

    /** L-BFGS iterations the fit took. */
    public int iterations() {
        return iterations;
    }

    /** Whether the fit reached the gradient tolerance (rather than the iteration limit or a stalled search). */
    public boolean converged() {
        return converged;
    }

    /** W [classes, d] row-major, a copy. */
    public double[] coefficients() {
        return coefficients.clone();
    }

    /** b [classes], summing to zero, a copy. */
    public double[] intercepts() {
        return intercepts.clone();
    }

    /** Logits transposed, [C, n] float64 in {@code tmp}: the layout keeps a tmp array first in every product. */
    private NDArray logits(NDArray x, NDManager tmp) {
        NDArray xt = x.transpose(); // [d, n], a view
        xt.attach(tmp);
        NDArray w = OwnedArrays.of(tmp, coefficients, new Shape(classes, dimension)); // [C, d]
        NDArray b = OwnedArrays.of(tmp, intercepts, new Shape(classes, 1)); // [C, 1]
        return w.matMul(xt.toType(DataType.FLOAT64, false)).add(b); // [C, n]
    }

    private void checkDimension(NDArray x) {
        if (x.getShape().dimension() != 2 || x.getShape().get(1) != dimension) {
            throw new IllegalArgumentException("expected rows [n, " + dimension + "], got " + x.getShape());
        }
    }

    /** Validates rows [n, d] against their labels; returns d. */
    private static int checkRows(NDArray x, long[] labels, int classes) {
        if (classes < 2) {
            throw new IllegalArgumentException("need at least 2 classes, got " + classes);
        }
        Shape s = x.getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("expected rows [n, d], got shape " + s);
        }
        if (!x.getDataType().isFloating()) {
            throw new IllegalArgumentException("expected floating-point rows, got " + x.getDataType());
        }
        if (s.get(0) == 0 || s.get(1) == 0) {
            throw new IllegalArgumentException("need at least one row and one column, got shape " + s);
        }
        if (s.get(0) != labels.length) {
            throw new IllegalArgumentException(s.get(0) + " rows but " + labels.length + " labels");
        }
        if ((long) classes * (s.get(1) + 1) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(classes + " classes × " + s.get(1) + " features do not fit a Java array");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " of row " + i + " is outside [0, " + classes + ")");
            }
        }
        return (int) s.get(1);
    }

    /**
     * The training rows on the engine in float64, in both layouts the two products want, and the one-hot
     * labels, in a sub-manager of x's that {@link #close()} releases. Every evaluation's temporaries live in a
     * sub-manager of that, closed before it returns, so native memory stays flat across iterations.
     */
    private static final class Data implements AutoCloseable {

        private final NDManager manager;
        private final int classes;
        private final int dimension;
        private final NDArray rows; // [n, d]
        private final NDArray columns; // [d, n], a view of rows
        private final NDArray oneHot; // [C, n]

        Data(NDArray x, long[] labels, int classes) {
            this.manager = x.getManager().newSubManager();
            this.classes = classes;
            this.dimension = (int) x.getShape().get(1);
            try {
                NDArray view = x.transpose(); // [d, n]
                view.attach(manager);
                this.columns = view.toType(DataType.FLOAT64, false);
                this.columns.attach(manager);
                this.rows = columns.transpose(); // [n, d]
                try (NDManager tmp = manager.newSubManager()) {
                    NDArray y = OwnedArrays.of(tmp, labels); // [n]
                    this.oneHot = y.oneHot(classes, DataType.FLOAT64).transpose().toType(DataType.FLOAT64, true); // [C, n]
                    this.oneHot.attach(manager);
                }
            } catch (RuntimeException e) {
                manager.close();
                throw e;
            }
        }

        /**
         * F(w) = Σ_i −log softmax(W x_i + b)[y_i] + ‖W‖²/(2C) with w = [W row-major, b]; its gradient goes into
         * {@code gradient}: ((P − Y)ᵀ X + W / C, Σ_i (p_i − y_i)).
         */
        double scaledObjective(double[] w, double c, double[] gradient) {
            int wSize = classes * dimension;
            double[] gw;
            double[] gb;
            double nll;
            try (NDManager tmp = manager.newSubManager()) {
                NDArray weights = OwnedArrays.of(tmp, Arrays.copyOf(w, wSize), new Shape(classes, dimension)); // [C, d]
                NDArray bias = OwnedArrays.of(tmp, Arrays.copyOfRange(w, wSize, w.length), new Shape(classes, 1)); // [C, 1]
                NDArray logp = weights.matMul(columns).add(bias).logSoftmax(0); // [C, n]
                nll = -logp.mul(oneHot).sum().getDouble();
                NDArray residual = logp.exp().sub(oneHot); // [C, n]
                gw = residual.matMul(rows).toDoubleArray(); // [C, d]
                gb = residual.sum(new int[] {1}).toDoubleArray(); // [C]
            }
            double penalty = 0;
            for (int j = 0; j < wSize; j++) {
                penalty += w[j] * w[j];
                gradient[j] = gw[j] + w[j] / c;
            }
            System.arraycopy(gb, 0, gradient, wSize, classes);
            return nll + penalty / (2 * c);
        }

        @Override
        public void close() {
            manager.close();
        }
    }
}
