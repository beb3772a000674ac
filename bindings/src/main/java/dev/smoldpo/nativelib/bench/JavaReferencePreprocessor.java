package dev.smoldpo.nativelib.bench;

import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.PreprocessorConfig;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;

/**
 * Straightforward pure-Java versions of the Idefics3 pipeline, the baselines of the benchmark:
 * {@link Resampler#AWT_BICUBIC} scales with Graphics2D (bicubic hint), {@link Resampler#JAVA_LANCZOS}
 * is a plain separable Lanczos-3 in float arithmetic. Both run on TYPE_3BYTE_BGR images and write
 * the same float CHW output as the native path. Not used in production.
 */
public final class JavaReferencePreprocessor {
    public enum Resampler { AWT_BICUBIC, JAVA_LANCZOS }

    private final PreprocessorConfig cfg;
    private final Resampler resampler;

    public JavaReferencePreprocessor(PreprocessorConfig cfg, Resampler resampler) {
        if (!cfg.doImageSplitting()) throw new IllegalArgumentException("the baseline implements the splitting pipeline only");
        this.cfg = cfg;
        this.resampler = resampler;
    }

    /** Tiles then the global image, float [tiles, 3, T, T]; the grid goes to {@code gridOut[0]}. */
    public float[] process(BufferedImage src, ImageGrid[] gridOut) {
        int w = src.getWidth(), h = src.getHeight();
        // sizes exactly as transformers computes them
        double aspect = (double) w / h;
        int w1, h1;
        if (w >= h) {
            w1 = cfg.longestEdge();
            h1 = (int) (w1 / aspect);
            if (h1 % 2 != 0) h1++;
        } else {
            h1 = cfg.longestEdge();
            w1 = (int) (h1 * aspect);
            if (w1 % 2 != 0) w1++;
        }
        int t = cfg.tileSize();
        double a1 = (double) w1 / h1;
        int w2, h2;
        if (w1 >= h1) {
            w2 = ceilTo(w1, t);
            h2 = ceilTo((int) (w2 / a1), t);
        } else {
            h2 = ceilTo(h1, t);
            w2 = ceilTo((int) (h2 * a1), t);
        }
        BufferedImage r1 = resize(bgr(src), w1, h1);
        BufferedImage r2 = (w2 == w1 && h2 == h1) ? r1 : resize(r1, w2, h2);
        int rows = (h2 > t || w2 > t) ? h2 / t : 0, cols = (h2 > t || w2 > t) ? w2 / t : 0;
        int tiles = rows * cols + 1;
        float[] out = new float[tiles * 3 * t * t];
        byte[] px = ((DataBufferByte) r2.getRaster().getDataBuffer()).getData();
        int k = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++, k++) writeTile(px, w2, c * t, r * t, t, out, k);
        BufferedImage g = (w2 == t && h2 == t) ? r2 : resize(r2, t, t);
        writeTile(((DataBufferByte) g.getRaster().getDataBuffer()).getData(), t, 0, 0, t, out, k);
        if (gridOut != null) gridOut[0] = new ImageGrid(rows, cols, tiles, 0, w1, h1, w2, h2);
        return out;
    }

    private void writeTile(byte[] bgr, int stride, int x0, int y0, int t, float[] out, int tile) {
        float[] lut = new float[256];
        for (int v = 0; v < 256; v++) lut[v] = ((float) (v * cfg.rescaleFactor()) - cfg.imageMean()[0]) / cfg.imageStd()[0];
        int plane = t * t, base = tile * 3 * plane;
        for (int y = 0; y < t; y++) {
            int row = ((y0 + y) * stride + x0) * 3;
            for (int x = 0; x < t; x++) {
                int p = row + 3 * x, o = y * t + x;
                out[base + o] = lut[bgr[p + 2] & 0xff];
                out[base + plane + o] = lut[bgr[p + 1] & 0xff];
                out[base + 2 * plane + o] = lut[bgr[p] & 0xff];
            }
        }
    }

    private static int ceilTo(int v, int t) {
        return (v + t - 1) / t * t;
    }

    private static BufferedImage bgr(BufferedImage src) {
        if (src.getType() == BufferedImage.TYPE_3BYTE_BGR) return src;
        BufferedImage c = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = c.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.dispose();
        return c;
    }

    private BufferedImage resize(BufferedImage src, int w, int h) {
        return resampler == Resampler.AWT_BICUBIC ? awt(src, w, h) : lanczos(src, w, h);
    }

    private static BufferedImage awt(BufferedImage src, int w, int h) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.drawImage(src, 0, 0, w, h, null);
        g.dispose();
        return out;
    }

    /** Separable Lanczos-3, float weights and accumulators, rounding at each pass. */
    private static BufferedImage lanczos(BufferedImage src, int w, int h) {
        int sw = src.getWidth(), sh = src.getHeight();
        byte[] in = ((DataBufferByte) src.getRaster().getDataBuffer()).getData();
        Weights wx = weights(sw, w), wy = weights(sh, h);
        byte[] tmp = new byte[sh * w * 3];
        for (int y = 0; y < sh; y++) {
            for (int x = 0; x < w; x++) {
                float a = 0.5f, b = 0.5f, c = 0.5f;
                int s = wx.start[x];
                for (int i = 0; i < wx.count[x]; i++) {
                    float k = wx.k[x * wx.stride + i];
                    int p = (y * sw + s + i) * 3;
                    a += (in[p] & 0xff) * k;
                    b += (in[p + 1] & 0xff) * k;
                    c += (in[p + 2] & 0xff) * k;
                }
                int o = (y * w + x) * 3;
                tmp[o] = clip(a);
                tmp[o + 1] = clip(b);
                tmp[o + 2] = clip(c);
            }
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] dst = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
        float[] acc = new float[w * 3];
        for (int y = 0; y < h; y++) {
            java.util.Arrays.fill(acc, 0.5f);
            int s = wy.start[y];
            for (int i = 0; i < wy.count[y]; i++) {
                float k = wy.k[y * wy.stride + i];
                int row = (s + i) * w * 3;
                for (int j = 0; j < w * 3; j++) acc[j] += (tmp[row + j] & 0xff) * k;
            }
            for (int j = 0; j < w * 3; j++) dst[y * w * 3 + j] = clip(acc[j]);
        }
        return out;
    }

    private static byte clip(float v) {
        int i = (int) v;
        return (byte) (i < 0 ? 0 : Math.min(i, 255));
    }

    private record Weights(int[] start, int[] count, float[] k, int stride) {}

    private static Weights weights(int in, int out) {
        double scale = (double) in / out, fs = Math.max(1, scale), support = 3 * fs;
        int stride = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[out], count = new int[out];
        float[] k = new float[out * stride];
        for (int o = 0; o < out; o++) {
            double center = (o + 0.5) * scale;
            int lo = Math.max(0, (int) (center - support + 0.5)), hi = Math.min(in, (int) (center + support + 0.5));
            double sum = 0;
            double[] tmp = new double[hi - lo];
            for (int i = lo; i < hi; i++) sum += tmp[i - lo] = lanczos3((i - center + 0.5) / fs);
            for (int i = lo; i < hi; i++) k[o * stride + i - lo] = (float) (tmp[i - lo] / sum);
            start[o] = lo;
            count[o] = hi - lo;
        }
        return new Weights(start, count, k, stride);
    }

    private static double lanczos3(double x) {
        if (x <= -3 || x >= 3) return 0;
        if (x == 0) return 1;
        double px = Math.PI * x;
        return 3 * Math.sin(px) * Math.sin(px / 3) / (px * px);
    }
}
