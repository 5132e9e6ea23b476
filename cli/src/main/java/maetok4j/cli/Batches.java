package maetok4j.cli;

import ai.djl.ndarray.NDManager;

/** Runs work over {@code n} items in batches, each in its own native scope, with a progress bar. */
final class Batches {

    @FunctionalInterface
    interface Body {
        /** Processes items {@code [first, first+count)}; arrays made in {@code scope} are freed afterwards. */
        void run(int first, int count, NDManager scope);
    }

    private Batches() {}

    /** Returns the seconds taken; the bar shows when there is more than one batch. */
    static double run(String task, int n, int batchSize, NDManager manager, Body body) {
        return run(task, n, batchSize, n > batchSize, manager, body);
    }

    /** Returns the seconds taken; the bar shows when {@code showProgress}. */
    static double run(String task, int n, int batchSize, boolean showProgress, NDManager manager, Body body) {
        long start = System.nanoTime();
        try (Progress progress = new Progress(task, n, "img", showProgress)) {
            for (int first = 0; first < n; first += batchSize) {
                int count = Math.min(batchSize, n - first);
                try (NDManager scope = manager.newSubManager()) {
                    body.run(first, count, scope);
                }
                progress.step(count);
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }
}
