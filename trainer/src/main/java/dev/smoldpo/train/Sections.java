package dev.smoldpo.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Wall-clock seconds of the training loop by section: data (read + encode), reference, trainStep, optimizerStep. */
final class Sections {
    private final Map<String, Double> seconds = new LinkedHashMap<>();

    Sections() {
        for (String s : new String[] {"data", "reference", "train_step", "optimizer_step"}) {
            seconds.put(s, 0.0);
        }
    }

    /** Adds the time since {@code startNanos} (a {@link System#nanoTime()}) to {@code section}. */
    void add(String section, long startNanos) {
        seconds.merge(section, (System.nanoTime() - startNanos) / 1e9, Double::sum);
    }

    Map<String, Double> snapshot() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(seconds));
    }
}
