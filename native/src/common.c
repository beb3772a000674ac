/* Errors, validation, planning and resampling coefficients: shared by both implementations. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static _Thread_local char sd_last_message[SMOLDPO_ERROR_MESSAGE_CAPACITY];

int32_t sd_fail(smoldpo_error *err, int32_t code, const char *fmt, ...) {
    char buf[SMOLDPO_ERROR_MESSAGE_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(sd_last_message, buf, sizeof buf);
    if (err) {
        err->code = code;
        memcpy(err->message, buf, sizeof buf);
    }
    return code;
}

int32_t sd_ok(smoldpo_error *err) {
    sd_last_message[0] = '\0';
    if (err) {
        err->code = SMOLDPO_OK;
        err->message[0] = '\0';
    }
    return SMOLDPO_OK;
}

int32_t smoldpo_api_version(void) { return SMOLDPO_API_VERSION; }

const char *smoldpo_last_error_message(void) { return sd_last_message; }

const char *smoldpo_status_name(int32_t status) {
    switch (status) {
    case SMOLDPO_OK: return "SMOLDPO_OK: success";
    case SMOLDPO_ERR_NULL_ARGUMENT: return "SMOLDPO_ERR_NULL_ARGUMENT: a required pointer is NULL";
    case SMOLDPO_ERR_INVALID_ARGUMENT: return "SMOLDPO_ERR_INVALID_ARGUMENT: an argument is outside its domain";
    case SMOLDPO_ERR_BUFFER_TOO_SMALL: return "SMOLDPO_ERR_BUFFER_TOO_SMALL: a buffer is shorter than required";
    case SMOLDPO_ERR_SIZE_OUT_OF_RANGE: return "SMOLDPO_ERR_SIZE_OUT_OF_RANGE: an image size is zero, negative or too large";
    case SMOLDPO_ERR_UNSUPPORTED_CHANNELS: return "SMOLDPO_ERR_UNSUPPORTED_CHANNELS: unsupported channel count or pixel layout";
    case SMOLDPO_ERR_UNSUPPORTED_LOSS: return "SMOLDPO_ERR_UNSUPPORTED_LOSS: unknown loss type or flag";
    case SMOLDPO_ERR_OUT_OF_MEMORY: return "SMOLDPO_ERR_OUT_OF_MEMORY: allocation failed";
    case SMOLDPO_ERR_CUDA_UNAVAILABLE: return "SMOLDPO_ERR_CUDA_UNAVAILABLE: CUDA is not available (not compiled in, no driver or no device)";
    case SMOLDPO_ERR_CUDA: return "SMOLDPO_ERR_CUDA: a CUDA runtime call failed";
    case SMOLDPO_ERR_UNSUPPORTED_DEVICE: return "SMOLDPO_ERR_UNSUPPORTED_DEVICE: unknown device";
    case SMOLDPO_ERR_INTERNAL: return "SMOLDPO_ERR_INTERNAL: internal error";
    default: return "SMOLDPO_ERR_UNKNOWN: unknown status code";
    }
}

int32_t smoldpo_cuda_device_count(void) { return sd_cuda_device_count(); }

void smoldpo_cuda_cache_stats_get(smoldpo_cuda_cache_stats *stats) {
    if (stats) sd_cuda_cache_stats(stats);
}

int32_t smoldpo_cuda_release_cache(smoldpo_error *err) {
    int32_t rc = sd_cuda_release_cache(err);
    return rc ? rc : sd_ok(err);
}

void smoldpo_preprocess_config_init(smoldpo_preprocess_config *cfg) {
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->do_resize = 1;
    cfg->longest_edge = 2048;
    cfg->do_image_splitting = 1;
    cfg->tile_size = 512;
    cfg->do_rescale = 1;
    cfg->do_normalize = 1;
    cfg->rescale_factor = 1.0 / 255.0;
    for (int i = 0; i < 3; i++) {
        cfg->image_mean[i] = 0.5f;
        cfg->image_std[i] = 0.5f;
    }
}

int64_t sd_row_stride(const smoldpo_image *img) {
    return img->row_stride ? img->row_stride : (int64_t)img->width * img->channels;
}

int32_t sd_validate_image(const smoldpo_image *img, int32_t index, smoldpo_error *err) {
    if (!img) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "image %d: descriptor is NULL", index);
    if (!img->data) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "image %d: pixel data pointer is NULL", index);
    if (img->width <= 0 || img->height <= 0)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "image %d: size %dx%d, width and height must be positive", index, img->width,
                       img->height);
    if (img->width > SMOLDPO_MAX_SOURCE_EDGE || img->height > SMOLDPO_MAX_SOURCE_EDGE)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "image %d: size %dx%d, a side exceeds the limit of %d pixels", index,
                       img->width, img->height, SMOLDPO_MAX_SOURCE_EDGE);
    int64_t pixels = (int64_t)img->width * img->height;
    if (pixels > SMOLDPO_MAX_SOURCE_PIXELS)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "image %d: size %dx%d = %lld pixels exceeds the source limit of %d (64 MP)",
                       index, img->width, img->height, (long long)pixels, SMOLDPO_MAX_SOURCE_PIXELS);
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_CHANNELS,
                       "image %d: %d channels, only 1 (gray), 3 (RGB/BGR) or 4 (RGBA/BGRA/ABGR/BGRX) are supported",
                       index, img->channels);
    switch (img->layout) {
    case SMOLDPO_LAYOUT_RGB:
    case SMOLDPO_LAYOUT_BGR:
        break; /* also used (ignored) for 1-channel gray */
    case SMOLDPO_LAYOUT_ABGR:
    case SMOLDPO_LAYOUT_BGRX:
        if (img->channels != 4)
            return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_CHANNELS,
                           "image %d: layout %d needs 4 channels, got %d", index, img->layout,
                           img->channels);
        break;
    default:
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_CHANNELS, "image %d: unknown pixel layout %d",
                       index, img->layout);
    }
    int64_t row = (int64_t)img->width * img->channels;
    int64_t stride = sd_row_stride(img);
    if (stride < row)
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT,
                       "image %d: row stride %lld is smaller than width * channels = %lld", index,
                       (long long)stride, (long long)row);
    int64_t need = stride * (img->height - 1) + row;
    if (img->data_len < need)
        return sd_fail(err, SMOLDPO_ERR_BUFFER_TOO_SMALL,
                       "image %d: pixel buffer holds %lld bytes, %dx%dx%d needs %lld", index,
                       (long long)img->data_len, img->width, img->height, img->channels,
                       (long long)need);
    return SMOLDPO_OK;
}

int32_t sd_validate_config(const smoldpo_preprocess_config *cfg, smoldpo_error *err) {
    if (!cfg) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "config is NULL");
    if (cfg->do_resize && (cfg->longest_edge <= 0 || cfg->longest_edge > SMOLDPO_MAX_EDGE))
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "config: longest_edge %d must be in 1..%d", cfg->longest_edge,
                       SMOLDPO_MAX_EDGE);
    if (cfg->tile_size <= 0 || cfg->tile_size > SMOLDPO_MAX_EDGE)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE, "config: tile_size %d must be in 1..%d",
                       cfg->tile_size, SMOLDPO_MAX_EDGE);
    if (cfg->do_rescale && !isfinite(cfg->rescale_factor))
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "config: rescale_factor is not finite");
    if (cfg->do_normalize) {
        for (int i = 0; i < 3; i++) {
            if (!isfinite(cfg->image_mean[i]) || !isfinite(cfg->image_std[i]) ||
                cfg->image_std[i] == 0.0f)
                return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT,
                               "config: image_mean/image_std[%d] = %g/%g, std must be finite and non-zero",
                               i, cfg->image_mean[i], cfg->image_std[i]);
        }
    }
    return SMOLDPO_OK;
}

static int32_t ceil_multiple(int64_t v, int32_t t) { return (int32_t)(((v + t - 1) / t) * t); }

/* Sizes of one image through the processor; mirrors transformers' Idefics3ImageProcessor
 * (_resize_output_size_rescale_to_max_len, _resize_output_size_scale_below_upper_bound with 4096,
 * resize_for_vision_encoder, split_image; without splitting, the resize to a max_image_size square).
 * Python's int() truncates like the C casts below. */
static int32_t plan_one(const smoldpo_image *img, int32_t index, const smoldpo_preprocess_config *cfg,
                        smoldpo_image_plan *p, smoldpo_error *err) {
    int64_t h = img->height, w = img->width;
    if (cfg->do_resize) {
        int64_t max_len = cfg->longest_edge;
        double aspect = (double)w / (double)h;
        if (w >= h) {
            w = max_len;
            h = (int64_t)((double)w / aspect);
            if (h % 2 != 0) h += 1;
        } else {
            h = max_len;
            w = (int64_t)((double)h * aspect);
            if (w % 2 != 0) w += 1;
        }
        if (h < 1) h = 1;
        if (w < 1) w = 1;
        aspect = (double)w / (double)h;
        if (w >= h && w > SMOLDPO_MAX_EDGE) {
            w = SMOLDPO_MAX_EDGE;
            h = (int64_t)((double)w / aspect);
        } else if (h > w && h > SMOLDPO_MAX_EDGE) {
            h = SMOLDPO_MAX_EDGE;
            w = (int64_t)((double)h * aspect);
        }
        if (h < 1) h = 1;
        if (w < 1) w = 1;
    }
    p->resized_width = (int32_t)w;
    p->resized_height = (int32_t)h;
    p->reserved = 0;
    const int32_t t = cfg->tile_size;
    if (!cfg->do_image_splitting) {
        /* transformers "squares the images to max_image_size": one resize of the (longest-edge
         * resized) image to tile x tile, aspect ratio not kept, and no tiles, so rows = cols = 0 */
        p->split_width = t;
        p->split_height = t;
        p->rows = 0;
        p->cols = 0;
        p->tile_count = 1;
        return SMOLDPO_OK;
    }
    if (w > SMOLDPO_MAX_EDGE || h > SMOLDPO_MAX_EDGE)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "image %d: %lldx%lld after resize, the longest edge must not exceed %d", index,
                       (long long)w, (long long)h, SMOLDPO_MAX_EDGE);
    double aspect = (double)w / (double)h;
    int64_t w2, h2;
    if (w >= h) {
        w2 = ceil_multiple(w, t);
        h2 = (int64_t)((double)w2 / aspect);
        h2 = ceil_multiple(h2, t);
    } else {
        h2 = ceil_multiple(h, t);
        w2 = (int64_t)((double)h2 * aspect);
        w2 = ceil_multiple(w2, t);
    }
    if (w2 <= 0 || h2 <= 0 || w2 > SMOLDPO_MAX_EDGE || h2 > SMOLDPO_MAX_EDGE)
        return sd_fail(err, SMOLDPO_ERR_SIZE_OUT_OF_RANGE,
                       "image %d: %lldx%lld after the resize to tile multiples, sides must be in 1..%d",
                       index, (long long)w2, (long long)h2, SMOLDPO_MAX_EDGE);
    p->split_width = (int32_t)w2;
    p->split_height = (int32_t)h2;
    if (h2 > t || w2 > t) {
        p->rows = (int32_t)((h2 + t - 1) / t);
        p->cols = (int32_t)((w2 + t - 1) / t);
    } else {
        p->rows = 0;
        p->cols = 0;
    }
    p->tile_count = p->rows * p->cols + 1;
    return SMOLDPO_OK;
}

int32_t sd_plan_batch(const smoldpo_image *images, int32_t count,
                      const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans,
                      smoldpo_batch_plan *batch, smoldpo_error *err) {
    if (!images) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "images is NULL");
    if (count <= 0) return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "image count %d must be positive", count);
    int32_t rc = sd_validate_config(cfg, err);
    if (rc) return rc;
    int64_t total = 0;
    /* every output image is tile x tile: tiles, global images and (without splitting) the squared
     * image alike, so the batch is never padded */
    const int32_t ch = cfg->tile_size, cw = cfg->tile_size;
    for (int32_t i = 0; i < count; i++) {
        rc = sd_validate_image(&images[i], i, err);
        if (rc) return rc;
        smoldpo_image_plan p;
        rc = plan_one(&images[i], i, cfg, &p, err);
        if (rc) return rc;
        p.first_tile = total;
        total += p.tile_count;
        if (plans) plans[i] = p;
    }
    if (batch) {
        batch->total_tiles = total;
        batch->canvas_height = ch;
        batch->canvas_width = cw;
        batch->pixel_mask_len = total * ch * cw;
        batch->pixel_values_len = batch->pixel_mask_len * 3;
    }
    return SMOLDPO_OK;
}

int32_t smoldpo_preprocess_plan(const smoldpo_image *images, int32_t count,
                                const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans,
                                smoldpo_batch_plan *batch, smoldpo_error *err) {
    int32_t rc = sd_plan_batch(images, count, cfg, plans, batch, err);
    return rc ? rc : sd_ok(err);
}

/* ---- resampling coefficients (the arithmetic of PIL's Resample.c, LANCZOS a = 3) ---------- */

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) {
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3.0);
    return 0.0;
}

int32_t sd_coeffs_build(sd_coeffs *c, int32_t in_size, int32_t out_size) {
    memset(c, 0, sizeof *c);
    c->in_size = in_size;
    c->out_size = out_size;
    /* the source box is (0, in_size) held in single precision, as PIL's float box */
    double scale = (double)((float)in_size - 0.0f) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 3.0 * filterscale;
    int32_t ksize = (int32_t)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = (int32_t *)malloc(sizeof(int32_t) * 2 * (size_t)out_size);
    c->k = (int32_t *)calloc((size_t)out_size * ksize, sizeof(int32_t));
    double *w = (double *)malloc(sizeof(double) * (size_t)ksize);
    if (!c->bounds || !c->k || !w) {
        free(w);
        sd_coeffs_free(c);
        return SMOLDPO_ERR_OUT_OF_MEMORY;
    }
    double inv = 1.0 / filterscale;
    for (int32_t xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        int32_t xmin = (int32_t)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int32_t xmax = (int32_t)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double sum = 0.0;
        for (int32_t x = 0; x < xmax; x++) {
            w[x] = lanczos3((x + xmin - center + 0.5) * inv);
            sum += w[x];
        }
        int32_t *kk = c->k + (size_t)xx * ksize;
        for (int32_t x = 0; x < xmax; x++) {
            double v = sum != 0.0 ? w[x] / sum : w[x];
            double f = v * (double)(1 << SD_PRECISION_BITS);
            kk[x] = (int32_t)(v < 0 ? f - 0.5 : f + 0.5);
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return SMOLDPO_OK;
}

void sd_coeffs_free(sd_coeffs *c) {
    free(c->bounds);
    free(c->k);
    c->bounds = NULL;
    c->k = NULL;
}

void sd_build_lut(const smoldpo_preprocess_config *cfg, float lut[3 * 256]) {
    for (int ch = 0; ch < 3; ch++) {
        for (int v = 0; v < 256; v++) {
            /* transformers: rescale in float64 then cast to float32; normalise in float32 */
            float x = cfg->do_rescale ? (float)((double)v * cfg->rescale_factor) : (float)v;
            if (cfg->do_normalize) x = (x - cfg->image_mean[ch]) / cfg->image_std[ch];
            lut[ch * 256 + v] = x;
        }
    }
}
