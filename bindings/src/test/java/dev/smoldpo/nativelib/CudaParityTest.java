package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** CPU and CUDA agree. Runs only where a GPU is usable (skipped, not failed, elsewhere). */
class CudaParityTest {

    @BeforeEach
    void needsGpu() {
        assumeTrue(SmolDpoNative.cudaDeviceCount() > 0, "no CUDA device");
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
