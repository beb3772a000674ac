package dev.smoldpo.train.support;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG plots of a run's {@link MetricsLog} records, written into the output folder with XChart, headless:
 * {@value #LOSS} (train and eval loss against the step), {@value #ACCURACIES} and {@value #MARGINS} (train
 * and eval {@code rewards/accuracies} and {@code rewards/margins}). A plot is written when at least one
 * of its two series has a finite point; non-finite values are left out.
 */
public final class MetricsPlots {
    public static final String LOSS = "loss.png";
    public static final String ACCURACIES = "rewards_accuracies.png";
    public static final String MARGINS = "rewards_margins.png";
    public static final int WIDTH = 900;
    public static final int HEIGHT = 560;

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private MetricsPlots() {}

    /**
     * Plots from the run's metrics, where a failure to draw only warns: the plots are a view of
     * {@value MetricsLog#FILE_NAME}, and a run must still end with its summary. Seen on a GPU host
     * whose system has no fonts: Java's AWT fails with "Fontconfig head is null" while drawing the
     * axis labels.
     */
    public static void writeOrWarn(Path outputDir, java.io.PrintStream out) {
        try {
            write(outputDir);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (IOException | RuntimeException | Error e) {
            out.println("warning: plots not written (" + e + "); " + MetricsLog.FILE_NAME + " has every figure");
        }
    }

    /** Plots from the run's {@value MetricsLog#FILE_NAME} in {@code outputDir}. */
    public static List<Path> write(Path outputDir) throws IOException {
        return write(outputDir, MetricsLog.read(outputDir.resolve(MetricsLog.FILE_NAME)));
    }

    /** Writes the plots into {@code outputDir}; returns the files written. */
    public static List<Path> write(Path outputDir, List<MetricsLog.Record> records) throws IOException {
        Files.createDirectories(outputDir);
        List<Path> written = new ArrayList<>();
        plot(outputDir.resolve(LOSS), "DPO loss", "loss", MetricsLog.LOSS, records, written);
        plot(outputDir.resolve(ACCURACIES), "Reward accuracy (chosen reward > rejected reward)", "rewards/accuracies",
                MetricsLog.REWARDS_ACCURACIES, records, written);
        plot(outputDir.resolve(MARGINS), "Reward margin (chosen - rejected)", "rewards/margins",
                MetricsLog.REWARDS_MARGINS, records, written);
        return written;
    }

    /** One chart of {@code key} (train) and {@code eval_key} (eval) over the steps; nothing when neither was logged. */
    public static void plot(Path file, String title, String yTitle, String key, List<MetricsLog.Record> records,
                             List<Path> written) throws IOException {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle("step").yAxisTitle(yTitle).build();
        var s = chart.getStyler();
        s.setLegendPosition(Styler.LegendPosition.InsideNE);
        s.setChartBackgroundColor(java.awt.Color.WHITE);
        s.setPlotGridLinesVisible(true);
        boolean any = series(chart, "train", key, records, false);
        any |= series(chart, "eval", MetricsLog.eval(key), records, true);
        if (!any) {
            return;
        }
        BufferedImage image = BitmapEncoder.getBufferedImage(chart);
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), "." + file.getFileName(), ".tmp");
        try {
            if (!ImageIO.write(image, "png", tmp.toFile())) {
                throw new IOException("no PNG writer available");
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        written.add(file);
    }

    private static boolean series(XYChart chart, String name, String key, List<MetricsLog.Record> records,
                                  boolean markers) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (MetricsLog.Record r : records) {
            OptionalDouble y = r.get(key);
            OptionalDouble x = r.get(MetricsLog.STEP);
            if (y.isPresent() && x.isPresent() && Double.isFinite(y.getAsDouble())) {
                xs.add(x.getAsDouble());
                ys.add(y.getAsDouble());
            }
        }
        if (xs.isEmpty()) {
            return false;
        }
        XYSeries series = chart.addSeries(name, xs, ys);
        series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        if (markers || xs.size() == 1) {
            series.setMarker(SeriesMarkers.CIRCLE);
        } else {
            series.setMarker(SeriesMarkers.NONE);
        }
        return true;
    }
}
