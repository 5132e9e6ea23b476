package maetok4j.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.function.IntConsumer;

/**
 * Linear probing of latents (MAETok paper, Fig. 5a: accuracy of a linear classifier on the flattened latents):
 * features standardised with the training rows' statistics, then multinomial logistic regression with an L2
 * penalty ({@link LogisticRegression}); accuracy and the confusion matrix on held-out rows.
 */
public final class LinearProbe {

    /** {@code confusion} is the test rows'. */
    public record Result(int trainRows, int testRows, int features, int classes, double accuracy, double trainAccuracy,
            Confusion confusion, int iterations, boolean converged, double seconds) {

        /** Per-class recall on the test rows (NaN for a class with no test row). */
        public double[] classAccuracy() {
            return confusion.classAccuracy();
        }
    }

    private LinearProbe() {}

    /** Fits on {@code train} [n, D] with labels in [0, classes) and scores on {@code test} [m, D]. */
    public static Result run(NDArray train, long[] trainLabels, NDArray test, long[] testLabels, int classes,
            LogisticRegression.Config config, IntConsumer onIteration) {
        Shape s = train.getShape();
        if (s.dimension() != 2 || test.getShape().dimension() != 2 || test.getShape().get(1) != s.get(1)) {
            throw new IllegalArgumentException("expected train [n, D] and test [m, D], got " + s + " and " + test.getShape());
        }
        if (testLabels.length != test.getShape().get(0)) {
            throw new IllegalArgumentException(testLabels.length + " test labels for " + test.getShape().get(0) + " rows");
        }
        for (long l : testLabels) {
            if (l < 0 || l >= classes) {
                throw new IllegalArgumentException("test label " + l + " outside [0, " + classes + ")");
            }
        }
        long start = System.nanoTime();
        try (NDManager tmp = train.getManager().newSubManager()) {
            Standardizer z = Standardizer.fit(train);
            NDArray x = z.transform(train);
            NDArray y = z.transform(test);
            x.attach(tmp);
            y.attach(tmp);
            LogisticRegression model = LogisticRegression.fit(x, trainLabels, classes, config, onIteration);
            long[] predicted = model.predict(y);
            Confusion confusion = Confusion.of(testLabels, predicted, classes);
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Result((int) s.get(0), predicted.length, (int) s.get(1), classes, confusion.accuracy(),
                    model.accuracy(x, trainLabels), confusion, model.iterations(), model.converged(), seconds);
        }
    }
}
