package dev.smoldpo.progress;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicBoolean;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;

/** A live me.tongfei progress bar redrawn in place on its stream. */
final class BarMeter implements ProgressMeter {
    private final ProgressBar bar;
    private final ClosingOnce consumer;
    private final PrintStream out;

    /** Builds the bar from {@code builder}, drawing on {@code out}. */
    BarMeter(ProgressBarBuilder builder, PrintStream out) {
        this.out = out;
        this.consumer = new ClosingOnce(new ConsoleProgressBarConsumer(out));
        this.bar = builder.setConsumer(consumer).build();
    }

    @Override
    public void update(long current, String extra) {
        bar.setExtraMessage(extra == null ? "" : " " + extra);
        bar.stepTo(current);
    }

    @Override
    public void message(String line) {
        synchronized (out) {
            out.print("\r\033[K"); // wipe the bar's line, print the message, let the bar redraw below it
            out.println(line);
        }
        bar.refresh();
    }

    @Override
    public void close() {
        bar.close();
        // progressbar 0.10.1 draws the final state but does not end the line when the bar is closed before
        // its first scheduled redraw ran (a file that was already there: opened and closed at once); the
        // next bar would then overwrite this one's last state
        consumer.closeOnce();
    }

    /** The console consumer, remembering whether the bar already ended its line. */
    private static final class ClosingOnce implements ProgressBarConsumer {
        private final ProgressBarConsumer delegate;
        private final AtomicBoolean closed = new AtomicBoolean();

        ClosingOnce(ProgressBarConsumer delegate) {
            this.delegate = delegate;
        }

        @Override
        public int getMaxRenderedLength() {
            return delegate.getMaxRenderedLength();
        }

        @Override
        public void accept(String rendered) {
            delegate.accept(rendered);
        }

        @Override
        public void clear() {
            delegate.clear();
        }

        @Override
        public void close() {
            closeOnce();
        }

        void closeOnce() {
            if (closed.compareAndSet(false, true)) {
                delegate.close();
            }
        }
    }
}
