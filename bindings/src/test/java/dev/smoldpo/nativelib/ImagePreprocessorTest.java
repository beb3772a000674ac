package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ImagePreprocessorTest {

    static int maxAbsDiff(byte[] a, byte[] b) {
        assertEquals(a.length, b.length, "lengths");
        int m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
        return m;
    }

    /**
     * What transformers' Idefics3ImageProcessor makes of a PIL byte: rescale in float64, cast to
     * float32, normalise in float32 (the arithmetic the native lookup table reproduces).
     */
    static float transformersPixel(int value, PreprocessorConfig config, int channel) {
        float x = (float) (value * config.rescaleFactor());
        return (x - config.imageMean()[channel]) / config.imageStd()[channel];
    }

    @Test
    void resizeEqualsPilLanczosByteForByte() {
        List<Goldens.Resize> cases = Goldens.resizes();
        assertTrue(cases.size() >= 6, "at least 6 resize goldens");
        boolean up = false, down = false;
        for (Goldens.Resize c : cases) {
            byte[] got = ImagePreprocessor.resize(c.image(), c.dstW(), c.dstH(), Device.CPU);
            int d = maxAbsDiff(got, c.dst());
            assertEquals(0, d, c.name() + ": max |diff| " + d);
            up |= (long) c.dstW() * c.dstH() > (long) c.srcW() * c.srcH();
            down |= (long) c.dstW() * c.dstH() < (long) c.srcW() * c.srcH();
        }
        assertTrue(up && down, "goldens cover up- and down-scaling");
    }

    @Test
    void processorMatchesPilGoldens() {
        List<Goldens.Processor> cases = Goldens.processors();
        assertTrue(cases.size() >= 5);
        for (Goldens.Processor c : cases) {
            ImagePreprocessor pre = new ImagePreprocessor(c.config(), Device.CPU);
            try (PreprocessResult r = pre.preprocess(List.of(c.image()))) {
                ImageGrid g = r.grids().get(0);
                assertEquals(c.rows(), g.rows(), c.name() + " rows");
                assertEquals(c.cols(), g.cols(), c.name() + " cols");
                assertEquals(c.tileCount(), g.tileCount(), c.name() + " tiles");
                assertEquals(c.tileCount(), r.totalTiles());
                assertEquals(c.resizedW(), g.resizedWidth());
                assertEquals(c.resizedH(), g.resizedHeight());
                assertEquals(c.splitW(), g.splitWidth());
                assertEquals(c.splitH(), g.splitHeight());
                assertEquals(c.canvasH(), r.canvasHeight());
                assertEquals(c.canvasW(), r.canvasWidth());
                assertArrayEquals(new long[] {c.tileCount(), 3, c.canvasH(), c.canvasW()}, r.shape());
                FloatBuffer fb = r.pixelValuesBuffer();
                assertEquals(c.tiles().length, fb.remaining());
                // the PIL bytes through transformers' float32 arithmetic: equal to the last bit
                int plane = c.canvasH() * c.canvasW();
                for (int i = 0; i < c.tiles().length; i++) {
                    float want = transformersPixel(c.tiles()[i] & 0xff, c.config(), (i / plane) % 3);
                    if (Float.floatToRawIntBits(fb.get(i)) != Float.floatToRawIntBits(want)) {
                        assertEquals(want, fb.get(i), c.name() + ": value " + i);
                    }
                }
                byte[] mask = r.pixelMask().toArray(ValueLayout.JAVA_BYTE);
                assertEquals((long) c.tileCount() * c.canvasH() * c.canvasW(), mask.length);
                for (byte m : mask) assertEquals(1, m, c.name() + " mask");
            }
            int d = maxAbsDiff(pre.preprocessUint8(List.of(c.image())).pixels(), c.tiles());
            assertEquals(0, d, c.name() + " uint8: max |diff| " + d);
        }
    }

    @Test
    void gridsAtSmolVlmDefaults() {
        ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.smolvlm());
        for (int[] row : Goldens.grids()) {
            byte[] px = new byte[row[0] * row[1] * 3];
            ImageGrid g = pre.plan(List.of(DecodedImage.rgb(px, row[0], row[1]))).get(0);
            String at = row[0] + "x" + row[1];
            assertEquals(row[4], g.resizedWidth(), at);
            assertEquals(row[5], g.resizedHeight(), at);
            assertEquals(row[6], g.splitWidth(), at);
            assertEquals(row[7], g.splitHeight(), at);
            assertEquals(row[8], g.rows(), at);
            assertEquals(row[9], g.cols(), at);
        }
    }

    @Test
    void batchOfPhotosAtDefaults() {
        Random rnd = new Random(7);
        byte[] a = new byte[1024 * 768 * 3], b = new byte[300 * 200 * 3];
        rnd.nextBytes(a);
        rnd.nextBytes(b);
        ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CPU);
        try (Arena arena = Arena.ofConfined()) {
            PreprocessResult r = pre.preprocess(List.of(DecodedImage.rgb(a, 1024, 768), DecodedImage.rgb(b, 300, 200)), arena);
            assertEquals(3, r.grids().get(0).rows());
            assertEquals(4, r.grids().get(0).cols());
            assertEquals(13, r.grids().get(0).tileCount());
            assertEquals(13, r.grids().get(1).firstTile());
            assertEquals(26, r.totalTiles());
            assertEquals(26L * 3 * 512 * 512 * 4, r.pixelValues().byteSize());
            assertEquals(13L * 3 * 512 * 512 * 4, r.imagePixelValues(1).byteSize());
            float[] v = r.pixelValuesArray();
            for (int i = 0; i < v.length; i += 9973) assertTrue(v[i] >= -1f && v[i] <= 1f);
        }
    }

    /**
     * A 2 x 70,000 strip, taller than CUDA's gridDim.y limit of 65,535 and, before API 2, refused by the
     * source edge limit: its bottom band (rows 66,000 on) must reach the last tile's bottom rows.
     */
    static DecodedImage tallStrip() {
        byte[] px = new byte[2 * 70000 * 3];
        for (int y = 0; y < 70000; y++) {
            byte v = (byte) (y < 20000 ? 10 : y < 66000 ? 128 : 250);
            for (int i = 0; i < 6; i++) px[y * 6 + i] = v;
        }
        return DecodedImage.rgb(px, 2, 70000);
    }

    @Test
    void tallStripIsAcceptedAndItsBottomRowsArrive() {
        try (PreprocessResult r = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CPU).preprocess(List.of(tallStrip()))) {
            ImageGrid g = r.grids().get(0);
            assertEquals(4, g.rows());
            assertEquals(1, g.cols());
            float[] v = r.pixelValuesArray();
            int plane = 512 * 512;
            // tile 0 is the top band (10), tile 3's last row and the global image's the bottom band (250)
            assertEquals((10 / 255f - 0.5f) / 0.5f, v[0], 1e-6f);
            assertEquals((250 / 255f - 0.5f) / 0.5f, v[3 * 3 * plane + plane - 1], 1e-6f);
            assertEquals((250 / 255f - 0.5f) / 0.5f, v[4 * 3 * plane + 3 * plane - 1], 1e-6f);
        }
    }

    @Test
    void withoutSplittingEveryImageBecomesOneTileSquare() {
        // transformers squares each image to max_image_size without splitting: no padding, no
        // canvas of the batch's largest image (which the model's 512x512 tiles could not take)
        byte[] a = new byte[40 * 20 * 3], b = new byte[10 * 30 * 3];
        java.util.Arrays.fill(a, (byte) 255);
        java.util.Arrays.fill(b, (byte) 255);
        PreprocessorConfig cfg = PreprocessorConfig.smolvlm().withLongestEdge(64).withTileSize(24).withImageSplitting(false);
        try (PreprocessResult r = new ImagePreprocessor(cfg).preprocess(List.of(DecodedImage.rgb(a, 40, 20), DecodedImage.rgb(b, 10, 30)))) {
            // 40x20 -> 64x32 -> 24x24; 10x30 -> 64 high, int(64 / 3) = 21 -> 22 wide -> 24x24
            ImageGrid g0 = r.grids().get(0), g1 = r.grids().get(1);
            assertEquals(List.of(64, 32, 24, 24, 0, 0, 1), List.of(g0.resizedWidth(), g0.resizedHeight(), g0.splitWidth(),
                    g0.splitHeight(), g0.rows(), g0.cols(), g0.tileCount()));
            assertEquals(List.of(22, 64, 24, 24, 0, 0, 1), List.of(g1.resizedWidth(), g1.resizedHeight(), g1.splitWidth(),
                    g1.splitHeight(), g1.rows(), g1.cols(), g1.tileCount()));
            assertEquals(1, g1.firstTile());
            assertArrayEquals(new long[] {2, 3, 24, 24}, r.shape());
            for (float v : r.pixelValuesArray()) assertEquals(1f, v); // white everywhere: nothing padded with 0
            for (byte m : r.pixelMask().toArray(ValueLayout.JAVA_BYTE)) assertEquals(1, m);
        }
    }

    @Test
    void awtImagesAreWrappedWithoutChangingResults() {
        int w = 37, h = 23;
        BufferedImage argb = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
        Graphics2D g = argb.createGraphics();
        g.setPaint(new java.awt.GradientPaint(0, 0, Color.RED, w, h, new Color(20, 200, 90)));
        g.fillRect(0, 0, w, h);
        g.setColor(new Color(10, 20, 250));
        g.fillOval(5, 3, 20, 15);
        g.dispose();
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int p = argb.getRGB(x, y);
                rgb[(y * w + x) * 3] = (byte) (p >> 16);
                rgb[(y * w + x) * 3 + 1] = (byte) (p >> 8);
                rgb[(y * w + x) * 3 + 2] = (byte) p;
            }
        byte[] want = ImagePreprocessor.resize(DecodedImage.rgb(rgb, w, h), 61, 40, Device.CPU);
        for (int type : new int[] {BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_3BYTE_BGR,
                BufferedImage.TYPE_4BYTE_ABGR, BufferedImage.TYPE_INT_BGR, BufferedImage.TYPE_USHORT_565_RGB}) {
            BufferedImage img = new BufferedImage(w, h, type);
            Graphics2D g2 = img.createGraphics();
            g2.drawImage(argb, 0, 0, null);
            g2.dispose();
            DecodedImage d = DecodedImage.of(img);
            byte[] got = ImagePreprocessor.resize(d, 61, 40, Device.CPU);
            int tol = type == BufferedImage.TYPE_USHORT_565_RGB ? 16 : 0; // 565 quantises the source
            assertTrue(maxAbsDiff(got, want) <= tol, "AWT type " + type + " via " + d.layout() + "/" + d.channels());
        }
        BufferedImage gray = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        byte[] gp = ((java.awt.image.DataBufferByte) gray.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < gp.length; i++) gp[i] = (byte) (i * 7);
        DecodedImage gd = DecodedImage.of(gray);
        assertEquals(1, gd.channels());
        byte[] g3 = new byte[w * h * 3];
        for (int i = 0; i < gp.length; i++) g3[3 * i] = g3[3 * i + 1] = g3[3 * i + 2] = gp[i];
        assertEquals(0, maxAbsDiff(ImagePreprocessor.resize(gd, 20, 30, Device.CPU),
                ImagePreprocessor.resize(DecodedImage.rgb(g3, w, h), 20, 30, Device.CPU)));
    }

    @Test
    void alphaIsCompositedOntoWhite() {
        byte[] rgba = {10, 20, 30, 0, 10, 20, 30, (byte) 255};
        DecodedImage img = DecodedImage.rgba(rgba, 2, 1);
        byte[] same = ImagePreprocessor.resize(img, 2, 1, Device.CPU);
        assertArrayEquals(new byte[] {(byte) 255, (byte) 255, (byte) 255, 10, 20, 30}, same);
    }

    private static NativeException fails(Runnable r) {
        return assertThrows(NativeException.class, r::run);
    }

    @Test
    void badInputBecomesExceptionsThatNameTheProblem() {
        ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.smolvlm());
        // null buffer
        NativeException e = fails(() -> pre.preprocess(List.of(new DecodedImage(MemorySegment.NULL, 4, 4, 3, PixelLayout.RGB, 12))));
        assertEquals("SMOLDPO_ERR_NULL_ARGUMENT", e.statusName());
        assertTrue(e.getMessage().contains("image 0") && e.getMessage().contains("NULL"), e.getMessage());
        // short buffer
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[10], 4, 4))));
        assertEquals("SMOLDPO_ERR_BUFFER_TOO_SMALL", e.statusName());
        assertTrue(e.getMessage().contains("48"), e.getMessage());
        // zero and negative sizes
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[12], 0, 4))));
        assertEquals("SMOLDPO_ERR_SIZE_OUT_OF_RANGE", e.statusName());
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[12], 4, -1))));
        assertEquals("SMOLDPO_ERR_SIZE_OUT_OF_RANGE", e.statusName());
        assertTrue(e.getMessage().contains("4x-1"), e.getMessage());
        // a source over 64 MP (sizes are checked before the buffer length)
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[12], 9000, 9000))));
        assertEquals("SMOLDPO_ERR_SIZE_OUT_OF_RANGE", e.statusName());
        assertTrue(e.getMessage().contains("64 MP"), e.getMessage());
        // a side over the source edge limit (2^20: a 70,000-pixel strip is fine, see tallStripIsAccepted)
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[12], (1 << 20) + 1, 1))));
        assertEquals("SMOLDPO_ERR_SIZE_OUT_OF_RANGE", e.statusName());
        assertTrue(e.getMessage().contains("1048576"), e.getMessage());
        // a longest edge over 4096 after resize
        e = fails(() -> new ImagePreprocessor(PreprocessorConfig.smolvlm().withLongestEdge(5000))
                .preprocess(List.of(DecodedImage.rgb(new byte[48], 4, 4))));
        assertEquals("SMOLDPO_ERR_SIZE_OUT_OF_RANGE", e.statusName());
        assertTrue(e.getMessage().contains("4096"), e.getMessage());
        e = fails(() -> ImagePreprocessor.resize(DecodedImage.rgb(new byte[48], 4, 4), 5000, 10, Device.CPU));
        assertTrue(e.getMessage().contains("5000x10"), e.getMessage());
        // unsupported channel counts
        for (int ch : new int[] {0, 2, 5}) {
            final int c = ch;
            e = fails(() -> pre.preprocess(List.of(DecodedImage.of(MemorySegment.ofArray(new byte[200]), 4, 4, c, PixelLayout.RGB))));
            assertEquals("SMOLDPO_ERR_UNSUPPORTED_CHANNELS", e.statusName());
            assertTrue(e.getMessage().contains(c + " channels"), e.getMessage());
        }
        // the second image of a batch is named
        e = fails(() -> pre.preprocess(List.of(DecodedImage.rgb(new byte[48], 4, 4), DecodedImage.rgb(new byte[3], 4, 4))));
        assertTrue(e.getMessage().contains("image 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pre.preprocess(List.of()));
    }

    @Test
    void cudaWithoutGpuGivesAClearException() {
        org.junit.jupiter.api.Assumptions.assumeTrue(SmolDpoNative.cudaDeviceCount() == 0, "a GPU is present");
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CUDA));
        assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
        e = assertThrows(DeviceUnavailableException.class,
                () -> ImagePreprocessor.resize(DecodedImage.rgb(new byte[48], 4, 4), 8, 8, Device.CUDA));
        assertEquals("SMOLDPO_ERR_CUDA_UNAVAILABLE", e.statusName());
    }
}
