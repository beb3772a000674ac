package dev.smoldpo.nativelib.bench;

import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.ImagePreprocessor;
import dev.smoldpo.nativelib.NativeLibrary;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.nativelib.PreprocessorConfig;
import dev.smoldpo.nativelib.SmolDpoNative;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Images per second for SmolVLM preprocessing of a batch of 1024x768 photos at the processor
 * defaults (longest_edge 2048, tiles 512: 3x4 tiles + global each), side by side in one run:
 * native CPU (and CUDA when a GPU is present) against pure-Java baselines. Prints figures; not a test.
 *
 * <p>Arguments: {@code [--images N] [--iterations K] [--threads T] [--width W] [--height H]}.
 */
public final class PreprocessBenchmark {
    public static void main(String[] args) throws Exception {
        int images = 8, iterations = 3, width = 1024, height = 768;
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--images" -> images = Integer.parseInt(args[++i]);
                case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--width" -> width = Integer.parseInt(args[++i]);
                case "--height" -> height = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        PreprocessorConfig cfg = PreprocessorConfig.smolvlm();
        List<BufferedImage> photos = new ArrayList<>();
        for (int i = 0; i < images; i++) photos.add(photo(width, height, 100 + i));
        List<DecodedImage> decoded = photos.stream().map(DecodedImage::of).toList();

        System.out.printf(Locale.ROOT, "libsmoldpo %s%n", NativeLibrary.load());
        System.out.printf(Locale.ROOT, "batch: %d photos %dx%d, longest_edge %d, tile %d; %d iterations after 1 warm-up; %d CPU cores; CUDA devices %d%n",
                images, width, height, cfg.longestEdge(), cfg.tileSize(), iterations,
                Runtime.getRuntime().availableProcessors(), SmolDpoNative.cudaDeviceCount());

        float[] reference;
        ImagePreprocessor cpu = new ImagePreprocessor(cfg, Device.CPU);
        try (PreprocessResult r = cpu.preprocess(decoded.subList(0, 1))) {
            reference = r.imagePixelValues(0).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            ImageGrid g = r.grids().get(0);
            System.out.printf(Locale.ROOT, "grid per photo: %dx%d tiles + global = %d tiles of 3x%dx%d%n",
                    g.rows(), g.cols(), g.tileCount(), cfg.tileSize(), cfg.tileSize());
        }

        List<String[]> rows = new ArrayList<>();
        rows.add(run("native CPU (C, OpenMP, PIL-exact Lanczos)", images, iterations, () -> {
            try (PreprocessResult r = cpu.preprocess(decoded)) {
                return r.totalTiles();
            }
        }, 0));
        if (SmolDpoNative.cudaDeviceCount() > 0) {
            ImagePreprocessor gpu = new ImagePreprocessor(cfg, Device.CUDA);
            rows.add(run("native CUDA", images, iterations, () -> {
                try (PreprocessResult r = gpu.preprocess(decoded)) {
                    return r.totalTiles();
                }
            }, 0));
        }
        for (JavaReferencePreprocessor.Resampler rs : JavaReferencePreprocessor.Resampler.values()) {
            JavaReferencePreprocessor java = new JavaReferencePreprocessor(cfg, rs);
            float[] first = java.process(photos.get(0), null);
            double diff = meanAbsDiff(first, reference);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                rows.add(run("Java " + rs.name().toLowerCase(Locale.ROOT).replace('_', ' ') + " (" + threads + " threads)",
                        images, iterations, () -> {
                            List<Future<float[]>> fs = new ArrayList<>();
                            for (BufferedImage p : photos) fs.add(pool.submit(() -> java.process(p, null)));
                            long tiles = 0;
                            for (Future<float[]> f : fs) tiles += f.get().length / (3L * cfg.tileSize() * cfg.tileSize());
                            return tiles;
                        }, diff));
            } finally {
                pool.shutdown();
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-48s %12s %12s %22s%n", "implementation", "images/s", "ms/image", "mean |diff| vs native");
        for (String[] r : rows) System.out.printf(Locale.ROOT, "%-48s %12s %12s %22s%n", (Object[]) r);
    }

    interface Job {
        long run() throws Exception;
    }

    private static String[] run(String name, int images, int iterations, Job job, double diff) throws Exception {
        job.run(); // warm-up
        long best = Long.MAX_VALUE;
        long total = 0;
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            job.run();
            long dt = System.nanoTime() - t0;
            best = Math.min(best, dt);
            total += dt;
        }
        double mean = total / 1e9 / iterations;
        System.out.printf(Locale.ROOT, "%-48s mean %.3f s per batch, best %.3f s%n", name, mean, best / 1e9);
        return new String[] {name, String.format(Locale.ROOT, "%.2f", images / mean),
                String.format(Locale.ROOT, "%.1f", mean * 1000 / images),
                String.format(Locale.ROOT, "%.4f (%.2f levels)", diff, diff * 255 / 2)};
    }

    private static double meanAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) return Double.NaN;
        double s = 0;
        for (int i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
        return s / a.length;
    }

    /** A deterministic photo-like image: gradients, discs, fine texture and noise (TYPE_3BYTE_BGR). */
    static BufferedImage photo(int w, int h, long seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] px = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        Random rnd = new Random(seed);
        double cx = rnd.nextDouble() * w, cy = rnd.nextDouble() * h, rad = Math.min(w, h) * (0.2 + 0.2 * rnd.nextDouble());
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int r = 255 * x / w, g = 255 * y / h, b = (int) (128 + 100 * Math.sin(x * 0.05 + y * 0.03));
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad) {
                    r = 230;
                    g = 60 + (x & 31);
                    b = 40;
                }
                int n = rnd.nextInt(17) - 8;
                int o = (y * w + x) * 3;
                px[o] = (byte) Math.clamp(b + n, 0, 255);
                px[o + 1] = (byte) Math.clamp(g + n, 0, 255);
                px[o + 2] = (byte) Math.clamp(r + n, 0, 255);
            }
        }
        return img;
    }
}
