package maetok4j.analysis;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.function.IntConsumer;

/**
 * Unconstrained limited-memory BFGS on Java double vectors: the two-loop recursion with the usual
 * {@code s·y / y·y} initial scaling, and a line search for the strong Wolfe conditions (Nocedal &amp; Wright,
 * algorithms 3.5 and 3.6, cubic interpolation). Converged means {@code max |∇f| ≤ tolerance}: without bounds
 * this is exactly scipy L-BFGS-B's {@code pgtol} test on the projected gradient.
 *
 * <p>Close to the optimum the decrease a step buys falls below the rounding of f (a sum over many rows), so
 * the sufficient-decrease test alone would reject every step there and stall above a tight tolerance. A step
 * is therefore also accepted under Hager and Zhang's approximate Wolfe conditions: f grew by no more than
 * {@link #F_NOISE}·|f| and the directional derivative passed the curvature test. Both are statements about
 * the gradient, which stays accurate where f differences do not.
 */
final class Lbfgs {

    /** The function to minimise: returns f(x) and writes ∇f(x) into {@code gradient}. */
    @FunctionalInterface
    interface Objective {
        double evaluate(double[] x, double[] gradient);
    }

    record Result(double[] x, double value, double gradientMax, int iterations, boolean converged) {}

    static final int MEMORY = 10;
    /** Armijo (sufficient decrease) and curvature constants, the usual values for quasi-Newton methods. */
    static final double C1 = 1e-4;
    static final double C2 = 0.9;
    /** Function evaluations allowed per line search (scipy's {@code maxls}). */
    static final int MAX_LINE_SEARCH = 20;
    /** Relative rounding allowance on f for the approximate Wolfe conditions; f is a float64 sum of n terms. */
    static final double F_NOISE = 1e-11;

    private Lbfgs() {}

    /** A point tried by the line search. */
    private record Trial(double step, double[] x, double value, double[] gradient, double slope) {}

    /**
     * Minimises {@code f} from {@code start} (not modified), for at most {@code maxIterations} line searches;
     * {@code onIteration} receives each finished iteration's number, from 1.
     */
    static Result minimize(Objective f, double[] start, int maxIterations, double tolerance, IntConsumer onIteration) {
        int size = start.length;
        double[] x = start.clone();
        double[] g = new double[size];
        double value = f.evaluate(x, g);
        if (!Double.isFinite(value) || !allFinite(g)) {
            throw new IllegalArgumentException("the objective is not finite at the starting point");
        }
        Deque<double[][]> memory = new ArrayDeque<>(MEMORY); // {s, y, {1 / y·s}}, newest first
        int iteration = 0;
        boolean converged = maxAbs(g) <= tolerance;
        while (!converged && iteration < maxIterations) {
            double[] direction = direction(g, memory);
            double slope = dot(direction, g);
            if (!(slope < 0)) { // rounding in a badly scaled history: fall back to steepest descent
                memory.clear();
                direction = negated(g);
                slope = dot(direction, g);
            }
            // without curvature information the first step is scaled to unit length, as L-BFGS-B does
            double firstStep = memory.isEmpty() ? Math.min(1.0, 1.0 / Math.sqrt(-slope)) : 1.0;
            Trial accepted = lineSearch(f, x, value, direction, slope, firstStep);
            if (accepted == null) {
                if (memory.isEmpty()) {
                    break; // no decrease even along −∇f: f is flat to rounding here
                }
                memory.clear();
                continue;
            }
            double[] s = new double[size];
            double[] y = new double[size];
            for (int i = 0; i < size; i++) {
                s[i] = accepted.x[i] - x[i];
                y[i] = accepted.gradient[i] - g[i];
            }
            double ys = dot(y, s);
            // the Wolfe curvature condition makes y·s > 0; keep the inverse Hessian positive definite regardless
            if (ys > 1e-12 * dot(y, y)) {
                if (memory.size() == MEMORY) {
                    memory.removeLast();
                }
                memory.addFirst(new double[][] {s, y, {1.0 / ys}});
            }
            x = accepted.x;
            g = accepted.gradient;
            value = accepted.value;
            iteration++;
            converged = maxAbs(g) <= tolerance;
            onIteration.accept(iteration);
        }
        return new Result(x, value, maxAbs(g), iteration, converged);
    }

    /** −H∇f by the two-loop recursion, H the L-BFGS inverse Hessian of the stored pairs. */
    static double[] direction(double[] g, Deque<double[][]> memory) {
        double[] q = negated(g);
        if (memory.isEmpty()) {
            return q;
        }
        double[] alpha = new double[memory.size()];
        int k = 0;
        for (double[][] pair : memory) {
            alpha[k] = pair[2][0] * dot(pair[0], q);
            axpy(-alpha[k], pair[1], q);
            k++;
        }
        double[][] newest = memory.peekFirst();
        double gamma = 1.0 / (newest[2][0] * dot(newest[1], newest[1])); // s·y / y·y
        for (int i = 0; i < q.length; i++) {
            q[i] *= gamma;
        }
        Iterator<double[][]> oldestFirst = memory.descendingIterator();
        while (oldestFirst.hasNext()) {
            double[][] pair = oldestFirst.next();
            k--;
            double beta = pair[2][0] * dot(pair[1], q);
            axpy(alpha[k] - beta, pair[0], q);
        }
        return q;
    }

    /**
     * A step along {@code d} meeting the strong Wolfe (or approximate Wolfe) conditions, or failing that the
     * best point with a sufficient decrease; null when no evaluated point decreased f.
     */
    private static Trial lineSearch(Objective f, double[] x, double value, double[] d, double slope, double firstStep) {
        int[] evaluations = {0};
        Trial previous = new Trial(0, x, value, null, slope);
        double step = firstStep;
        while (evaluations[0] < MAX_LINE_SEARCH) {
            Trial t = evaluate(f, x, d, step, evaluations);
            if (!Double.isFinite(t.value) || !sufficientDecrease(t, value, slope) || (evaluations[0] > 1 && t.value >= previous.value)) {
                return zoom(f, x, value, d, slope, previous, t, evaluations);
            }
            if (curvature(t, slope)) {
                return t;
            }
            if (t.slope >= 0) {
                return zoom(f, x, value, d, slope, t, previous, evaluations);
            }
            previous = t;
            step *= 4;
        }
        return previous.step > 0 ? previous : null;
    }

    /** Shrinks the bracket [lo, hi] (lo: the lowest sufficient-decrease point so far) until a Wolfe point. */
    private static Trial zoom(Objective f, double[] x, double value, double[] d, double slope, Trial lo, Trial hi,
            int[] evaluations) {
        while (evaluations[0] < MAX_LINE_SEARCH) {
            double step = interpolate(lo, hi);
            if (Math.abs(hi.step - lo.step) <= 1e-16 * Math.max(lo.step, hi.step)) {
                break;
            }
            Trial t = evaluate(f, x, d, step, evaluations);
            if (!Double.isFinite(t.value) || !sufficientDecrease(t, value, slope) || t.value >= lo.value) {
                if (Double.isFinite(t.value) && t.value < lo.value + F_NOISE * Math.abs(value) && curvature(t, slope)) {
                    return t; // approximate Wolfe: f equal to lo's within rounding and a good slope
                }
                hi = t;
            } else {
                if (curvature(t, slope)) {
                    return t;
                }
                if (t.slope * (hi.step - lo.step) >= 0) {
                    hi = lo;
                }
                lo = t;
            }
        }
        return lo.step > 0 ? lo : null;
    }

    /** Armijo's condition, or Hager and Zhang's approximate version when the decrease is below f's rounding. */
    static boolean sufficientDecrease(Trial t, double value, double slope) {
        if (t.value <= value + C1 * t.step * slope) {
            return true;
        }
        return t.value <= value + F_NOISE * Math.abs(value) && t.slope <= (2 * C1 - 1) * slope;
    }

    static boolean curvature(Trial t, double slope) {
        return Math.abs(t.slope) <= -C2 * slope;
    }

    /**
     * The minimiser of the cubic through both ends' values and slopes, kept at least a tenth of the bracket away
     * from its ends (else the bisection), so every evaluation shrinks the bracket.
     */
    static double interpolate(Trial a, Trial b) {
        double lo = Math.min(a.step, b.step);
        double hi = Math.max(a.step, b.step);
        double margin = 0.1 * (hi - lo);
        double mid = 0.5 * (lo + hi);
        if (!Double.isFinite(a.value) || !Double.isFinite(b.value)) {
            return mid;
        }
        double h = b.step - a.step;
        double d1 = a.slope + b.slope - 3 * (a.value - b.value) / (a.step - b.step);
        double disc = d1 * d1 - a.slope * b.slope;
        if (disc < 0) {
            return mid;
        }
        double d2 = Math.signum(h) * Math.sqrt(disc);
        double denominator = b.slope - a.slope + 2 * d2;
        if (denominator == 0) {
            return mid;
        }
        double step = b.step - h * (b.slope + d2 - d1) / denominator;
        return Double.isFinite(step) && step >= lo + margin && step <= hi - margin ? step : mid;
    }

    private static Trial evaluate(Objective f, double[] x, double[] d, double step, int[] evaluations) {
        evaluations[0]++;
        double[] point = x.clone();
        axpy(step, d, point);
        double[] gradient = new double[x.length];
        double value = f.evaluate(point, gradient);
        return new Trial(step, point, value, gradient, dot(gradient, d));
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** y += a·x */
    static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += a * x[i];
        }
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double e : v) {
            m = Math.max(m, Math.abs(e));
        }
        return m;
    }

    private static double[] negated(double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = -v[i];
        }
        return r;
    }

    private static boolean allFinite(double[] v) {
        for (double e : v) {
            if (!Double.isFinite(e)) {
                return false;
            }
        }
        return true;
    }
}
