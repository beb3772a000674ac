package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CPU and CUDA agree, and the CUDA path reuses its buffers. Runs only where a GPU is usable: skipped
 * elsewhere, and failed instead with {@code -Dsmoldpo.require.cuda=true} (the GPU check sets it).
 */
class CudaParityTest {
    static final String REQUIRE_PROPERTY = "smoldpo.require.cuda";

    @BeforeEach
    void needsGpu() {
        boolean gpu = SmolDpoNative.cudaDeviceCount() > 0;
        if (Boolean.getBoolean(REQUIRE_PROPERTY)) {
            assertTrue(gpu, REQUIRE_PROPERTY + "=true but no CUDA device is usable (library compiled with CUDA: "
                    + SmolDpoNative.cudaCompiled() + ")");
        }
        assumeTrue(gpu, "no CUDA device");
    }

    @Test
    void tallStripOnCudaEqualsTheCpu() {
        // one block row per image row would exceed gridDim.y (65,535) on this 70,000-row source
        List<DecodedImage> strip = List.of(ImagePreprocessorTest.tallStrip());
        try (PreprocessResult cpu = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CPU).preprocess(strip);
             PreprocessResult gpu = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CUDA).preprocess(strip)) {
            assertArrayEquals(cpu.pixelValuesArray(), gpu.pixelValuesArray());
        }
    }

    @Test
    void repeatedCallsReuseTheirBuffersAndReleaseFreesThem() {
        SmolDpoNative.releaseCudaCache();
        Random rnd = new Random(8);
        byte[] a = new byte[640 * 480 * 3];
        rnd.nextBytes(a);
        List<DecodedImage> batch = List.of(DecodedImage.rgb(a, 640, 480));
        ImagePreprocessor gpu = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CUDA);
        DpoLoss dpo = DpoLoss.sigmoid(0.1).on(Device.CUDA);
        double[] pc = {-1, -2, -3}, pr = {-2, -1, -4}, rc = {-1.5, -1.5, -3}, rr = {-1.5, -1.5, -3.5};
        try (PreprocessResult r = gpu.preprocess(batch)) {
            assertTrue(r.totalTiles() > 0);
        }
        dpo.compute(pc, pr, rc, rr, null, null);
        CudaCacheStats first = SmolDpoNative.cudaCacheStats();
        assertTrue(first.allocations() > 0 && first.deviceBytes() > 0, first.toString());
        for (int i = 0; i < 3; i++) {
            try (PreprocessResult r = gpu.preprocess(batch)) {
                assertTrue(r.totalTiles() > 0);
            }
            dpo.compute(pc, pr, rc, rr, null, null);
        }
        CudaCacheStats later = SmolDpoNative.cudaCacheStats();
        assertEquals(first.allocations(), later.allocations(), "no allocation once the buffers fit: " + later);
        assertEquals(1, later.contexts(), "one thread, one context: " + later);
        SmolDpoNative.releaseCudaCache();
        assertEquals(new CudaCacheStats(0, 0, 0, 0, later.allocations()), SmolDpoNative.cudaCacheStats());
    }

    @Test
    void concurrentCallsFromManyThreadsMatchTheCpu() throws Exception {
        Random rnd = new Random(21);
        int threads = 4;
        List<List<DecodedImage>> inputs = new java.util.ArrayList<>();
        List<float[]> expected = new java.util.ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int w = 700 + 113 * t, h = 500 + 41 * t;
            byte[] px = new byte[w * h * 3];
            rnd.nextBytes(px);
            inputs.add(List.of(DecodedImage.rgb(px, w, h)));
            try (PreprocessResult r = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CPU).preprocess(inputs.get(t))) {
                expected.add(r.pixelValuesArray());
            }
        }
        ImagePreprocessor gpu = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CUDA);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<Boolean>> done = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int k = t;
                done.add(pool.submit(() -> {
                    boolean same = true;
                    for (int i = 0; i < 6; i++) {
                        try (PreprocessResult r = gpu.preprocess(inputs.get(k))) {
                            same &= java.util.Arrays.equals(expected.get(k), r.pixelValuesArray());
                        }
                    }
                    return same;
                }));
            }
            for (int t = 0; t < threads; t++) {
                assertTrue(done.get(t).get(), "thread " + t + ": CUDA result differs from the CPU's");
            }
        } finally {
            pool.shutdown();
        }
        CudaCacheStats s = SmolDpoNative.cudaCacheStats();
        assertTrue(s.contexts() >= 1 && s.contexts() <= threads && s.idleContexts() == s.contexts(), s.toString());
    }

    @Test
    void resizeGoldensOnCuda() {
        for (Goldens.Resize c : Goldens.resizes()) {
            byte[] gpu = ImagePreprocessor.resize(c.image(), c.dstW(), c.dstH(), Device.CUDA);
            byte[] cpu = ImagePreprocessor.resize(c.image(), c.dstW(), c.dstH(), Device.CPU);
            assertEquals(0, ImagePreprocessorTest.maxAbsDiff(gpu, c.dst()), c.name() + " vs PIL");
            assertEquals(0, ImagePreprocessorTest.maxAbsDiff(gpu, cpu), c.name() + " vs CPU");
        }
    }

    @Test
    void processorCpuAndCudaAgree() {
        Random rnd = new Random(3);
        byte[] a = new byte[1024 * 768 * 3], b = new byte[333 * 1001 * 4];
        rnd.nextBytes(a);
        rnd.nextBytes(b);
        List<DecodedImage> batch = List.of(DecodedImage.rgb(a, 1024, 768), DecodedImage.rgba(b, 333, 1001));
        for (PreprocessorConfig cfg : List.of(PreprocessorConfig.smolvlm(), PreprocessorConfig.smolvlm().withImageSplitting(false).withLongestEdge(512))) {
            try (PreprocessResult cpu = new ImagePreprocessor(cfg, Device.CPU).preprocess(batch);
                 PreprocessResult gpu = new ImagePreprocessor(cfg, Device.CUDA).preprocess(batch)) {
                assertEquals(cpu.grids(), gpu.grids());
                // same integer resampling and the same lookup table: the same floats
                assertArrayEquals(cpu.pixelValuesArray(), gpu.pixelValuesArray());
                assertEquals(-1L, cpu.pixelMask().mismatch(gpu.pixelMask()));
            }
        }
        for (Goldens.Processor c : Goldens.processors()) {
            byte[] gpu = new ImagePreprocessor(c.config(), Device.CUDA).preprocessUint8(List.of(c.image())).pixels();
            assertEquals(0, ImagePreprocessorTest.maxAbsDiff(gpu, c.tiles()), c.name());
        }
    }

    @Test
    void transformersGoldensOnCuda() {
        for (TransformersGoldens.Case c : TransformersGoldens.cases()) {
            TransformersParityTest.assertMatches(c, Device.CUDA);
        }
    }

    @Test
    void dpoCpuAndCudaAgree() {
        Random rnd = new Random(11);
        int n = 1000;
        double[] pc = new double[n], pr = new double[n], rc = new double[n], rr = new double[n];
        int[] lc = new int[n], lr = new int[n];
        for (int i = 0; i < n; i++) {
            pc[i] = -rnd.nextDouble() * 100;
            pr[i] = -rnd.nextDouble() * 100;
            rc[i] = pc[i] + rnd.nextGaussian() * 5;
            rr[i] = pr[i] + rnd.nextGaussian() * 5;
            lc[i] = 1 + rnd.nextInt(200);
            lr[i] = 1 + rnd.nextInt(200);
        }
        for (LossType t : LossType.values()) {
            for (boolean refFree : new boolean[] {false, true}) {
                DpoLoss cpu = new DpoLoss(t, 0.1, t == LossType.SIGMOID ? 0.1 : 0, refFree, Device.CPU);
                DpoResult a = cpu.compute(pc, pr, rc, rr, lc, lr), b = cpu.on(Device.CUDA).compute(pc, pr, rc, rr, lc, lr);
                assertTrue(Math.abs(a.loss() - b.loss()) <= 1e-6 * Math.abs(a.loss()), t + " loss " + a.loss() + " vs " + b.loss());
                assertEquals(a.accuracy(), b.accuracy(), 1e-12);
                for (int i = 0; i < n; i++) {
                    assertTrue(Math.abs(a.losses()[i] - b.losses()[i]) <= 1e-6 * Math.max(1e-12, Math.abs(a.losses()[i])), t + " pair " + i);
                    assertTrue(Math.abs(a.gradChosen()[i] - b.gradChosen()[i]) <= 1e-6 * Math.max(1e-15, Math.abs(a.gradChosen()[i])), t + " grad " + i);
                }
            }
        }
    }
}
