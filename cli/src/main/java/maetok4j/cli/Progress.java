package maetok4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr for work over many items; silent for a single batch. */
final class Progress implements AutoCloseable {

    private final ProgressBar bar;

    Progress(String task, long total, String unit, boolean show) {
        this.bar = show ? new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setUnit(" " + unit, 1)
                .showSpeed()
                .setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .build() : null;
    }

    void step(long n) {
        if (bar != null) {
            bar.stepBy(n);
        }
    }

    /** Text shown after the bar, e.g. the live loss or the current fit. */
    void message(String text) {
        if (bar != null) {
            bar.setExtraMessage(" " + text);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
