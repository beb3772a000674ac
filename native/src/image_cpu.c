/* CPU implementation of the image pipeline, and the public dispatching entry points. */
#include "internal.h"
#include "pixel_ops.h"

#include <stdlib.h>
#include <string.h>

/* Source pixels as compact opaque RGB (composited onto white when there is alpha). When the
 * source already is compact RGB, *owned stays NULL and the source is used in place. */
static int32_t to_rgb(const smoldpo_image *img, const uint8_t **rgb, uint8_t **owned) {
    int64_t stride = sd_row_stride(img);
    *owned = NULL;
    if (img->channels == 3 && img->layout == SMOLDPO_LAYOUT_RGB && stride == (int64_t)img->width * 3) {
        *rgb = img->data;
        return SMOLDPO_OK;
    }
    uint8_t *out = (uint8_t *)malloc((size_t)img->width * img->height * 3);
    if (!out) return SMOLDPO_ERR_OUT_OF_MEMORY;
    const int32_t w = img->width, h = img->height, c = img->channels, layout = img->layout;
#pragma omp parallel for schedule(static)
    for (int32_t y = 0; y < h; y++) {
        const uint8_t *src = img->data + stride * y;
        uint8_t *dst = out + (size_t)y * w * 3;
        for (int32_t x = 0; x < w; x++) sd_load_rgb(src + (size_t)x * c, c, layout, dst + (size_t)x * 3);
    }
    *rgb = out;
    *owned = out;
    return SMOLDPO_OK;
}

/* Hot row kernels; on x86-64 with GCC they are also compiled for AVX2 and picked at load time
 * (integer arithmetic, so every clone gives identical bytes). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define SD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SD_CLONES
#endif

SD_CLONES
static void h_row(const uint8_t *in, uint8_t *out, int32_t dw, const int32_t *bounds, const int32_t *kk,
                  int32_t ks) {
    for (int32_t xx = 0; xx < dw; xx++) {
        const int32_t xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
        const int32_t *k = kk + (size_t)xx * ks;
        const uint8_t *p = in + (size_t)xmin * 3;
        int32_t s0 = 1 << (SD_PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int32_t x = 0; x < n; x++) {
            s0 += p[3 * x] * k[x];
            s1 += p[3 * x + 1] * k[x];
            s2 += p[3 * x + 2] * k[x];
        }
        out[3 * xx] = sd_clip8(s0);
        out[3 * xx + 1] = sd_clip8(s1);
        out[3 * xx + 2] = sd_clip8(s2);
    }
}

SD_CLONES
static void v_row(const uint8_t *vin, int32_t width3, int32_t ymin, int32_t n, const int32_t *k, int32_t *acc,
                  uint8_t *out) {
    for (int32_t i = 0; i < width3; i++) acc[i] = 1 << (SD_PRECISION_BITS - 1);
    for (int32_t y = 0; y < n; y++) {
        const uint8_t *row = vin + (size_t)(ymin + y) * width3;
        const int32_t kv = k[y];
        for (int32_t i = 0; i < width3; i++) acc[i] += row[i] * kv;
    }
    for (int32_t i = 0; i < width3; i++) out[i] = sd_clip8(acc[i]);
}

/* PIL-exact LANCZOS resize of compact RGB: horizontal pass (rows the vertical pass needs only),
 * 8-bit intermediate, then vertical pass; a pass is skipped when its size does not change. */
static int32_t resize_rgb(const uint8_t *src, int32_t sw, int32_t sh, uint8_t *dst, int32_t dw,
                          int32_t dh) {
    const int need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)sw * sh * 3);
        return SMOLDPO_OK;
    }
    sd_coeffs cv, ch;
    memset(&ch, 0, sizeof ch);
    if (sd_coeffs_build(&cv, sh, dh)) return SMOLDPO_ERR_OUT_OF_MEMORY;
    const int32_t y_first = cv.bounds[0];
    const int32_t y_last = cv.bounds[2 * (dh - 1)] + cv.bounds[2 * (dh - 1) + 1];
    const uint8_t *vin = src; /* input of the vertical pass */
    int32_t vin_row0 = 0;      /* source row held by vin's first row */
    uint8_t *tmp = NULL;
    if (need_h) {
        if (sd_coeffs_build(&ch, sw, dw)) {
            sd_coeffs_free(&cv);
            return SMOLDPO_ERR_OUT_OF_MEMORY;
        }
        const int32_t rows = need_v ? y_last - y_first : sh;
        const int32_t row0 = need_v ? y_first : 0;
        uint8_t *hout = need_v ? (tmp = (uint8_t *)malloc((size_t)rows * dw * 3)) : dst;
        if (!hout) {
            sd_coeffs_free(&cv);
            sd_coeffs_free(&ch);
            return SMOLDPO_ERR_OUT_OF_MEMORY;
        }
        const int32_t ks = ch.ksize;
        /* dynamic: robust when another process holds a core */
#pragma omp parallel for schedule(dynamic, 16)
        for (int32_t y = 0; y < rows; y++)
            h_row(src + (size_t)(y + row0) * sw * 3, hout + (size_t)y * dw * 3, dw, ch.bounds, ch.k, ks);
        sd_coeffs_free(&ch);
        vin = hout;
        vin_row0 = row0;
    }
    if (need_v) {
        const int32_t width3 = dw * 3; /* vertical input has the output width */
        const int32_t ks = cv.ksize;
        int32_t rc = SMOLDPO_OK;
#pragma omp parallel
        {
            int32_t *acc = (int32_t *)malloc(sizeof(int32_t) * (size_t)width3);
            if (!acc) {
#pragma omp atomic write
                rc = SMOLDPO_ERR_OUT_OF_MEMORY;
            }
#pragma omp for schedule(dynamic, 16)
            for (int32_t yy = 0; yy < dh; yy++) {
                if (!acc) continue;
                v_row(vin, width3, cv.bounds[2 * yy] - vin_row0, cv.bounds[2 * yy + 1], cv.k + (size_t)yy * ks, acc,
                      dst + (size_t)yy * width3);
            }
            free(acc);
        }
        free(tmp);
        sd_coeffs_free(&cv);
        return rc;
    }
    sd_coeffs_free(&cv);
    return SMOLDPO_OK;
}

/* Writes one RGB region (src_w wide, at (x0, y0), h x w pixels) into a CHW canvas, as floats
 * through the LUT or as bytes. */
static void write_region(const uint8_t *src, int32_t src_w, int32_t x0, int32_t y0, int32_t h,
                         int32_t w, int32_t canvas_h, int32_t canvas_w, const float *lut,
                         float *fout, uint8_t *bout) {
    const size_t plane = (size_t)canvas_h * canvas_w;
#pragma omp parallel for schedule(dynamic, 32)
    for (int32_t y = 0; y < h; y++) {
        const uint8_t *row = src + ((size_t)(y0 + y) * src_w + x0) * 3;
        for (int ch = 0; ch < 3; ch++) {
            if (fout) {
                float *o = fout + ch * plane + (size_t)y * canvas_w;
                const float *l = lut + ch * 256;
                for (int32_t x = 0; x < w; x++) o[x] = l[row[3 * x + ch]];
            } else {
                uint8_t *o = bout + ch * plane + (size_t)y * canvas_w;
                for (int32_t x = 0; x < w; x++) o[x] = row[3 * x + ch];
            }
        }
    }
}

static int32_t cpu_preprocess_one(const smoldpo_image *img, const smoldpo_preprocess_config *cfg,
                                  const smoldpo_image_plan *p, int32_t ch_, int32_t cw_,
                                  const float *lut, float *fout, uint8_t *bout) {
    const uint8_t *rgb;
    uint8_t *owned = NULL, *r1 = NULL, *r2 = NULL, *g = NULL;
    int32_t rc = to_rgb(img, &rgb, &owned);
    if (rc) return rc;
    const uint8_t *cur = rgb;
    int32_t cw = img->width, chh = img->height;
    if (p->resized_width != cw || p->resized_height != chh) {
        r1 = (uint8_t *)malloc((size_t)p->resized_width * p->resized_height * 3);
        if (!r1) { rc = SMOLDPO_ERR_OUT_OF_MEMORY; goto done; }
        rc = resize_rgb(cur, cw, chh, r1, p->resized_width, p->resized_height);
        if (rc) goto done;
        cur = r1;
        cw = p->resized_width;
        chh = p->resized_height;
    }
    const size_t tile_elems = (size_t)3 * ch_ * cw_;
    /* Then the resize to tile multiples (with splitting) or to the tile square (without: the plan
     * has split size t x t and a 0 x 0 grid, so the squared image is written as the global image). */
    if (p->split_width != cw || p->split_height != chh) {
        r2 = (uint8_t *)malloc((size_t)p->split_width * p->split_height * 3);
        if (!r2) { rc = SMOLDPO_ERR_OUT_OF_MEMORY; goto done; }
        rc = resize_rgb(cur, cw, chh, r2, p->split_width, p->split_height);
        if (rc) goto done;
        cur = r2;
        cw = p->split_width;
        chh = p->split_height;
    }
    const int32_t t = cfg->tile_size;
    size_t tile = 0;
    for (int32_t r = 0; r < p->rows; r++)
        for (int32_t c = 0; c < p->cols; c++, tile++)
            write_region(cur, cw, c * t, r * t, t, t, t, t, lut, fout ? fout + tile * tile_elems : NULL,
                         bout ? bout + tile * tile_elems : NULL);
    if (cw != t || chh != t) {
        g = (uint8_t *)malloc((size_t)t * t * 3);
        if (!g) { rc = SMOLDPO_ERR_OUT_OF_MEMORY; goto done; }
        rc = resize_rgb(cur, cw, chh, g, t, t);
        if (rc) goto done;
        cur = g;
    }
    write_region(cur, t, 0, 0, t, t, t, t, lut, fout ? fout + tile * tile_elems : NULL,
                 bout ? bout + tile * tile_elems : NULL);
done:
    free(owned);
    free(r1);
    free(r2);
    free(g);
    return rc;
}

static int32_t preprocess_common(int32_t device, const smoldpo_image *images, int32_t count,
                                 const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans_out,
                                 float *fout, int64_t flen, uint8_t *bout, int64_t blen,
                                 uint8_t *mask, int64_t mask_len, smoldpo_error *err) {
    if (device != SMOLDPO_DEVICE_CPU && device != SMOLDPO_DEVICE_CUDA)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_DEVICE, "device %d is neither CPU (0) nor CUDA (1)", device);
    if (count > 0 && count <= (1 << 20)) {
        /* planned below */
    } else if (count > (1 << 20)) {
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "image count %d exceeds 1048576", count);
    }
    smoldpo_image_plan stack_plans[16];
    smoldpo_image_plan *plans = count > 0 && count <= 16 ? stack_plans : NULL;
    if (count > 16) {
        plans = (smoldpo_image_plan *)malloc(sizeof(smoldpo_image_plan) * (size_t)count);
        if (!plans) return sd_fail(err, SMOLDPO_ERR_OUT_OF_MEMORY, "cannot allocate %d plans", count);
    }
    smoldpo_batch_plan batch;
    int32_t rc = sd_plan_batch(images, count, cfg, plans, &batch, err);
    if (rc) goto out;
    if (fout == NULL && bout == NULL) {
        rc = sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "pixel output buffer is NULL");
        goto out;
    }
    if (fout && flen < batch.pixel_values_len) {
        rc = sd_fail(err, SMOLDPO_ERR_BUFFER_TOO_SMALL,
                     "pixel_values holds %lld floats, %lld tiles of 3x%dx%d need %lld", (long long)flen,
                     (long long)batch.total_tiles, batch.canvas_height, batch.canvas_width,
                     (long long)batch.pixel_values_len);
        goto out;
    }
    if (bout && blen < batch.pixel_values_len) {
        rc = sd_fail(err, SMOLDPO_ERR_BUFFER_TOO_SMALL,
                     "pixels holds %lld bytes, %lld tiles of 3x%dx%d need %lld", (long long)blen,
                     (long long)batch.total_tiles, batch.canvas_height, batch.canvas_width,
                     (long long)batch.pixel_values_len);
        goto out;
    }
    if (mask && mask_len < batch.pixel_mask_len) {
        rc = sd_fail(err, SMOLDPO_ERR_BUFFER_TOO_SMALL,
                     "pixel_mask holds %lld bytes, %lld tiles of %dx%d need %lld", (long long)mask_len,
                     (long long)batch.total_tiles, batch.canvas_height, batch.canvas_width,
                     (long long)batch.pixel_mask_len);
        goto out;
    }
    const int64_t plane = (int64_t)batch.canvas_height * batch.canvas_width;
    /* every tile is tile_size x tile_size in both modes, so no pixel is padding */
    if (mask) memset(mask, 1, (size_t)batch.pixel_mask_len);
    if (device == SMOLDPO_DEVICE_CUDA) {
        rc = sd_cuda_preprocess(images, count, cfg, plans, &batch, fout, bout, err);
        if (rc) goto out;
    } else {
        float lut[3 * 256];
        sd_build_lut(cfg, lut);
        /* Batches: one image per thread (inner loops then run serially, nested parallelism being
         * off); a single image: its row loops are parallel instead. */
        int32_t failed = -1, failed_rc = SMOLDPO_OK;
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
        for (int32_t i = 0; i < count; i++) {
            int64_t off = plans[i].first_tile * plane * 3;
            int32_t r = cpu_preprocess_one(&images[i], cfg, &plans[i], batch.canvas_height,
                                           batch.canvas_width, lut, fout ? fout + off : NULL,
                                           bout ? bout + off : NULL);
            if (r) {
#pragma omp critical(smoldpo_fail)
                if (failed < 0 || i < failed) {
                    failed = i;
                    failed_rc = r;
                }
            }
        }
        if (failed >= 0) {
            rc = sd_fail(err, failed_rc, "image %d: out of memory while resizing", failed);
            goto out;
        }
    }
    if (plans_out) memcpy(plans_out, plans, sizeof(smoldpo_image_plan) * (size_t)count);
    rc = sd_ok(err);
out:
    if (plans != stack_plans) free(plans);
    return rc;
}

int32_t smoldpo_preprocess(int32_t device, const smoldpo_image *images, int32_t count,
                           const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans,
                           float *pixel_values, int64_t pixel_values_len, uint8_t *pixel_mask,
                           int64_t pixel_mask_len, smoldpo_error *err) {
    if (!pixel_values) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "pixel_values is NULL");
    return preprocess_common(device, images, count, cfg, plans, pixel_values, pixel_values_len, NULL,
                             0, pixel_mask, pixel_mask_len, err);
}

int32_t smoldpo_preprocess_u8(int32_t device, const smoldpo_image *images, int32_t count,
                              const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans,
                              uint8_t *pixels, int64_t pixels_len, smoldpo_error *err) {
    if (!pixels) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "pixels is NULL");
    return preprocess_common(device, images, count, cfg, plans, NULL, 0, pixels, pixels_len, NULL, 0,
                             err);
}

int32_t smoldpo_resize_u8(int32_t device, const smoldpo_image *src, int32_t out_width,
                          int32_t out_height, uint8_t *out_rgb, int64_t out_len, smoldpo_error *err) {
    if (device != SMOLDPO_DEVICE_CPU && device != SMOLDPO_DEVICE_CUDA)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_DEVICE, "device %d is neither CPU (0) nor CUDA (1)", device);
    int32_t rc = sd_validate_image(src, 0, err);
    if (rc) return rc;
    if (out_width <= 0 || out_height <= 0 || out_width > SMOLDPO_MAX_EDGE || out_height > SMOLDPO_MAX_EDGE)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "output size %dx%d, sides must be in 1..%d", out_width, out_height, SMOLDPO_MAX_EDGE);
    if (!out_rgb) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "out_rgb is NULL");
    int64_t need = (int64_t)out_width * out_height * 3;
    if (out_len < need)
        return sd_fail(err, SMOLDPO_ERR_BUFFER_TOO_SMALL, "out_rgb holds %lld bytes, %dx%d RGB needs %lld",
                       (long long)out_len, out_width, out_height, (long long)need);
    if (device == SMOLDPO_DEVICE_CUDA) {
        rc = sd_cuda_resize(src, out_width, out_height, out_rgb, err);
        return rc ? rc : sd_ok(err);
    }
    const uint8_t *rgb;
    uint8_t *owned;
    rc = to_rgb(src, &rgb, &owned);
    if (!rc) rc = resize_rgb(rgb, src->width, src->height, out_rgb, out_width, out_height);
    free(owned);
    if (rc) return sd_fail(err, rc, "out of memory while resizing %dx%d to %dx%d", src->width, src->height,
                           out_width, out_height);
    return sd_ok(err);
}
