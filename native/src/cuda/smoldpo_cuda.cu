// CUDA implementation. Host arrays in, host arrays out; every runtime call is checked and turned
// into SMOLDPO_ERR_CUDA / SMOLDPO_ERR_CUDA_UNAVAILABLE, never an abort. The resampling
// coefficients come from the same host code as the CPU path (sd_coeffs_build) and all pixel
// arithmetic is integer, so CPU and CUDA images are bit-identical.
//
// Each call takes an execution context from a pool (ctx_pool.h): its own stream and grow-only
// buffers. Nothing is allocated once the buffers are large enough, work is queued on the context's
// stream, and only that stream is synchronised, once, where the host needs the results.
//
// Every kernel is a 1-D grid-stride loop over its items: no launch dimension depends on an image
// side (gridDim.y and .z stop at 65,535; a source may be taller than that).
#include <cuda_runtime.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ctx_pool.h"
#include "../dpo_math.h"
#include "../internal.h"
#include "../pixel_ops.h"

extern "C" int32_t smoldpo_cuda_compiled(void) { return 1; }

extern "C" int32_t sd_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); // clear the sticky-free error state
        return 0;
    }
    return n < 0 ? 0 : n;
}

static int32_t require_device(smoldpo_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        (void)cudaGetLastError();
        return sd_fail(err, SMOLDPO_ERR_CUDA_UNAVAILABLE,
                       "CUDA device requested, but no CUDA device is available (%s); use the CPU device",
                       e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    }
    return SMOLDPO_OK;
}

static int32_t cuda_fail(smoldpo_error *err, cudaError_t e, const char *what) {
    (void)cudaGetLastError();
    return sd_fail(err, SMOLDPO_ERR_CUDA, "CUDA error in %s: %s (%s)", what, cudaGetErrorName(e),
                   cudaGetErrorString(e));
}

// ---- the context pool ---------------------------------------------------------------------------

// Buffer slots of a context; the pinned host ones come last.
enum {
    S_SRC, S_RGB, S_RESIZED, S_SPLIT, S_GLOBAL, S_OUT, S_LUT, S_COEF_H, S_COEF_V, S_TMP, S_DPO_IN,
    S_DPO_OUT,
    S_HOST_FIRST,
    S_HOST_DPO_IN = S_HOST_FIRST, S_HOST_DPO_OUT,
    S_COUNT
};
static_assert(S_COUNT <= SD_POOL_SLOTS, "more buffer slots than the pool holds");

static int op_is_host(int slot) { return slot >= S_HOST_FIRST; }

static int op_alloc(int slot, size_t n, void **p) {
    return (int)(op_is_host(slot) ? cudaMallocHost(p, n) : cudaMalloc(p, n));
}

// The first failure while freeing on this thread, for smoldpo_cuda_release_cache to report.
static thread_local cudaError_t t_free_error = cudaSuccess;

static void note_free_error(cudaError_t e) {
    if (e != cudaSuccess && t_free_error == cudaSuccess) t_free_error = e;
    (void)cudaGetLastError();
}

static void op_release(int slot, void *p) { note_free_error(op_is_host(slot) ? cudaFreeHost(p) : cudaFree(p)); }

static int op_wait(void *handle) {
    return (int)cudaStreamSynchronize((cudaStream_t)handle);
}

static void op_destroy(void *handle) { note_free_error(cudaStreamDestroy((cudaStream_t)handle)); }

static int op_create(int32_t device, void **handle);
static const sd_pool_ops g_ops = {op_create, op_wait, op_destroy, op_alloc, op_release, op_is_host};
static sd_pool g_pool = SD_POOL_INIT(&g_ops);
static pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

// Idle contexts are freed at exit (and at dlclose: atexit from a shared object is bound to it),
// before the CUDA runtime's own teardown, which was registered earlier, when it initialised.
static void free_idle_at_exit(void) { (void)sd_pool_trim(&g_pool); }
static void register_exit(void) { atexit(free_idle_at_exit); }

static int op_create(int32_t device, void **handle) {
    (void)pthread_once(&g_exit_once, register_exit);
    (void)device; // the stream belongs to the calling thread's current device, which is the key
    cudaStream_t s = nullptr;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return (int)e;
    }
    *handle = (void *)s;
    return 0;
}

extern "C" void sd_cuda_cache_stats(smoldpo_cuda_cache_stats *out) {
    sd_pool_stats s;
    sd_pool_get_stats(&g_pool, &s);
    out->contexts = s.contexts;
    out->idle_contexts = s.idle_contexts;
    out->device_bytes = s.device_bytes;
    out->pinned_host_bytes = s.host_bytes;
    out->allocations = s.allocations;
}

extern "C" int32_t sd_cuda_release_cache(smoldpo_error *err) {
    t_free_error = cudaSuccess;
    const int32_t freed = sd_pool_trim(&g_pool);
    if (t_free_error != cudaSuccess) {
        char what[96];
        snprintf(what, sizeof what, "freeing %d idle CUDA context(s)", (int)freed);
        return cuda_fail(err, t_free_error, what);
    }
    return SMOLDPO_OK;
}

// One call's hold on a context.
struct call {
    sd_pool_ctx *ctx;
    cudaStream_t stream;
    smoldpo_error *err;
};

static int32_t call_begin(call *c, smoldpo_error *err) {
    c->ctx = nullptr;
    c->stream = nullptr;
    c->err = err;
    int32_t rc = require_device(err);
    if (rc) return rc;
    int device = 0;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaGetDevice");
    int p = sd_pool_acquire(&g_pool, device, &c->ctx);
    if (p == -1) return sd_fail(err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for a CUDA context");
    if (p) return cuda_fail(err, (cudaError_t)p, "cudaStreamCreate (CUDA context)");
    c->stream = (cudaStream_t)c->ctx->handle;
    return SMOLDPO_OK;
}

// Waits for the call's stream when it succeeded so far: the host reads the results next.
static int32_t call_sync(call *c, int32_t rc) {
    if (rc != SMOLDPO_OK) return rc;
    cudaError_t e = cudaStreamSynchronize(c->stream);
    return e == cudaSuccess ? rc : cuda_fail(c->err, e, "cudaStreamSynchronize");
}

// Gives the context back; after a failure it is destroyed rather than reused. Its buffers belong to
// whichever call takes it next, so nothing may be read from them afterwards.
static int32_t call_release(call *c, int32_t rc) {
    sd_pool_release(&g_pool, c->ctx, rc != SMOLDPO_OK);
    c->ctx = nullptr;
    return rc;
}

static int32_t call_end(call *c, int32_t rc) { return call_release(c, call_sync(c, rc)); }

template <typename T>
static int32_t reserve(call *c, int slot, size_t n, T **p, const char *what) {
    void *v = nullptr;
    int e = sd_pool_reserve(&g_pool, c->ctx, slot, n, &v);
    *p = (T *)v;
    if (e == 0) return SMOLDPO_OK;
    if (e == -1) return sd_fail(c->err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for %s", what);
    return cuda_fail(c->err, (cudaError_t)e, what);
}

static int32_t checked(call *c, cudaError_t e, const char *what) {
    return e == cudaSuccess ? SMOLDPO_OK : cuda_fail(c->err, e, what);
}

// ---- kernels --------------------------------------------------------------------------------

static const unsigned THREADS = 256;
static const size_t MAX_BLOCKS = (size_t)1 << 20;

// Blocks for a grid-stride loop over n items (gridDim.x allows 2^31 - 1; the cap keeps launches small).
static unsigned blocks_for(size_t n) {
    size_t b = (n + THREADS - 1) / THREADS;
    if (b == 0) b = 1;
    return (unsigned)(b < MAX_BLOCKS ? b : MAX_BLOCKS);
}

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// Compact source pixels (channels c each) to compact RGB.
__global__ void k_to_rgb(const uint8_t *src, size_t pixels, int c, int layout, uint8_t *dst) {
    GRID_STRIDE(i, pixels) sd_load_rgb(src + i * c, c, layout, dst + i * 3);
}

// Horizontal pass: out row y (of rows) comes from input row (y + row0).
__global__ void k_resize_h(const uint8_t *in, int in_w, int row0, int rows, const int32_t *bounds,
                           const int32_t *kk, int ks, uint8_t *out, int out_w) {
    GRID_STRIDE(i, (size_t)rows * out_w) {
        const size_t y = i / out_w;
        const int xx = (int)(i % out_w);
        const int xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
        const int32_t *k = kk + (size_t)xx * ks;
        const uint8_t *p = in + ((y + row0) * in_w + xmin) * 3;
        int32_t s0 = 1 << (SD_PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < n; x++) {
            s0 += p[3 * x] * k[x];
            s1 += p[3 * x + 1] * k[x];
            s2 += p[3 * x + 2] * k[x];
        }
        uint8_t *o = out + i * 3;
        o[0] = sd_clip8(s0);
        o[1] = sd_clip8(s1);
        o[2] = sd_clip8(s2);
    }
}

// Vertical pass over byte columns (width3 = width * 3); input row r holds source row r + row0.
__global__ void k_resize_v(const uint8_t *in, int width3, int row0, const int32_t *bounds,
                           const int32_t *kk, int ks, uint8_t *out, int out_h) {
    GRID_STRIDE(i, (size_t)out_h * width3) {
        const int yy = (int)(i / width3);
        const size_t col = i % width3;
        const int ymin = bounds[2 * yy] - row0, n = bounds[2 * yy + 1];
        const int32_t *k = kk + (size_t)yy * ks;
        int32_t s = 1 << (SD_PRECISION_BITS - 1);
        for (int y = 0; y < n; y++) s += in[(size_t)(ymin + y) * width3 + col] * k[y];
        out[i] = sd_clip8(s);
    }
}

// One h x w RGB region at (x0, y0) of src into a CHW canvas (floats through lut, or bytes).
__global__ void k_write_region(const uint8_t *src, int src_w, int x0, int y0, int h, int w,
                               int canvas_h, int canvas_w, const float *lut, float *fout,
                               uint8_t *bout) {
    const size_t plane = (size_t)h * w;
    GRID_STRIDE(i, 3 * plane) {
        const int ch = (int)(i / plane);
        const size_t r = i % plane;
        const int y = (int)(r / w), x = (int)(r % w);
        uint8_t v = src[((size_t)(y0 + y) * src_w + x0 + x) * 3 + ch];
        size_t o = ((size_t)ch * canvas_h + y) * canvas_w + x;
        if (fout)
            fout[o] = lut[ch * 256 + v];
        else
            bout[o] = v;
    }
}

// ---- resize ---------------------------------------------------------------------------------

// Coefficients into a slot of the context. Pageable host to device: cudaMemcpyAsync returns once
// the source is staged, so the host copy may be freed right after.
static int32_t upload_coeffs(call *c, int slot, const sd_coeffs *co, int32_t **d_bounds, int32_t **d_k) {
    size_t nb = sizeof(int32_t) * 2 * (size_t)co->out_size;
    size_t nk = sizeof(int32_t) * (size_t)co->out_size * co->ksize;
    char *base;
    int32_t rc = reserve(c, slot, nb + nk, &base, "cudaMalloc(coefficients)");
    if (rc) return rc;
    *d_bounds = (int32_t *)base;
    *d_k = (int32_t *)(base + nb);
    cudaError_t e = cudaMemcpyAsync(*d_bounds, co->bounds, nb, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(*d_k, co->k, nk, cudaMemcpyHostToDevice, c->stream);
    return checked(c, e, "cudaMemcpyAsync(coefficients)");
}

// d_src (sw x sh RGB) -> d_dst (dw x dh RGB); same pass structure as the CPU code (and PIL). The
// coefficient and temporary slots are reused by the next resize of the call: the stream orders it.
static int32_t resize_dev(call *c, const uint8_t *d_src, int sw, int sh, uint8_t *d_dst, int dw, int dh) {
    const bool need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v)
        return checked(c, cudaMemcpyAsync(d_dst, d_src, (size_t)sw * sh * 3, cudaMemcpyDeviceToDevice, c->stream),
                       "cudaMemcpyAsync(resize copy)");
    sd_coeffs cv, chz;
    memset(&chz, 0, sizeof chz);
    if (sd_coeffs_build(&cv, sh, dh))
        return sd_fail(c->err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for resize coefficients");
    int32_t rc = SMOLDPO_OK;
    const int y_first = cv.bounds[0];
    const int y_last = cv.bounds[2 * (dh - 1)] + cv.bounds[2 * (dh - 1) + 1];
    const uint8_t *vin = d_src;
    int vin_row0 = 0;
    if (need_h) {
        int32_t *db, *dk;
        const int rows = need_v ? y_last - y_first : sh;
        const int row0 = need_v ? y_first : 0;
        uint8_t *hout = d_dst;
        if (sd_coeffs_build(&chz, sw, dw)) {
            rc = sd_fail(c->err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for resize coefficients");
            goto done;
        }
        if (need_v) {
            rc = reserve(c, S_TMP, (size_t)rows * dw * 3, &hout, "cudaMalloc(resize temp)");
            if (rc) goto done;
        }
        rc = upload_coeffs(c, S_COEF_H, &chz, &db, &dk);
        if (rc) goto done;
        k_resize_h<<<blocks_for((size_t)rows * dw), THREADS, 0, c->stream>>>(d_src, sw, row0, rows, db, dk,
                                                                               chz.ksize, hout, dw);
        rc = checked(c, cudaGetLastError(), "k_resize_h launch");
        if (rc) goto done;
        vin = hout;
        vin_row0 = row0;
    }
    if (need_v) {
        int32_t *db, *dk;
        rc = upload_coeffs(c, S_COEF_V, &cv, &db, &dk);
        if (rc) goto done;
        const int width3 = dw * 3;
        k_resize_v<<<blocks_for((size_t)width3 * dh), THREADS, 0, c->stream>>>(vin, width3, vin_row0, db, dk,
                                                                                cv.ksize, d_dst, dh);
        rc = checked(c, cudaGetLastError(), "k_resize_v launch");
    }
done:
    sd_coeffs_free(&cv);
    sd_coeffs_free(&chz);
    return rc;
}

// Uploads one source image and converts it to compact RGB in the S_RGB slot.
static int32_t upload_rgb(call *c, const smoldpo_image *img, uint8_t **d_rgb) {
    const size_t row = (size_t)img->width * img->channels;
    const size_t pixels = (size_t)img->width * img->height;
    uint8_t *src;
    int32_t rc = reserve(c, S_SRC, row * img->height, &src, "cudaMalloc(source image)");
    if (!rc) rc = reserve(c, S_RGB, pixels * 3, d_rgb, "cudaMalloc(source image)");
    if (rc) return rc;
    rc = checked(c, cudaMemcpy2DAsync(src, row, img->data, (size_t)sd_row_stride(img), row, img->height,
                                      cudaMemcpyHostToDevice, c->stream),
                 "cudaMemcpy2DAsync(source image)");
    if (rc) return rc;
    k_to_rgb<<<blocks_for(pixels), THREADS, 0, c->stream>>>(src, pixels, img->channels, img->layout, *d_rgb);
    return checked(c, cudaGetLastError(), "k_to_rgb launch");
}

static int32_t write_region_dev(call *c, const uint8_t *d_src, int src_w, int x0, int y0, int t,
                                const float *d_lut, float *d_f, uint8_t *d_b) {
    k_write_region<<<blocks_for((size_t)3 * t * t), THREADS, 0, c->stream>>>(d_src, src_w, x0, y0, t, t, t, t,
                                                                                d_lut, d_f, d_b);
    return checked(c, cudaGetLastError(), "k_write_region launch");
}

// One image: upload, resizes, tiles and global image into the S_OUT slot, copied out to host.
static int32_t preprocess_one(call *c, const smoldpo_image *img, const smoldpo_preprocess_config *cfg,
                              const smoldpo_image_plan *p, size_t tile_elems, size_t elem, const float *d_lut,
                              void *host_out) {
    uint8_t *cur;
    int32_t rc = upload_rgb(c, img, &cur);
    if (rc) return rc;
    int cw = img->width, chh = img->height;
    const size_t out_bytes = tile_elems * p->tile_count * elem;
    void *out;
    rc = reserve(c, S_OUT, out_bytes, &out, "cudaMalloc(output tiles)");
    if (rc) return rc;
    float *d_f = elem == sizeof(float) ? (float *)out : nullptr;
    uint8_t *d_b = elem == sizeof(float) ? nullptr : (uint8_t *)out;
    if (p->resized_width != cw || p->resized_height != chh) {
        uint8_t *r1;
        rc = reserve(c, S_RESIZED, (size_t)p->resized_width * p->resized_height * 3, &r1, "cudaMalloc(resized image)");
        if (!rc) rc = resize_dev(c, cur, cw, chh, r1, p->resized_width, p->resized_height);
        if (rc) return rc;
        cur = r1;
        cw = p->resized_width;
        chh = p->resized_height;
    }
    // the resize to tile multiples, or without splitting to the tile square (split size t x t and a
    // 0 x 0 grid: the squared image is written as the global image)
    const int t = cfg->tile_size;
    if (p->split_width != cw || p->split_height != chh) {
        uint8_t *r2;
        rc = reserve(c, S_SPLIT, (size_t)p->split_width * p->split_height * 3, &r2, "cudaMalloc(split image)");
        if (!rc) rc = resize_dev(c, cur, cw, chh, r2, p->split_width, p->split_height);
        if (rc) return rc;
        cur = r2;
        cw = p->split_width;
        chh = p->split_height;
    }
    size_t tile = 0;
    for (int rr = 0; rr < p->rows; rr++)
        for (int cc = 0; cc < p->cols; cc++, tile++) {
            rc = write_region_dev(c, cur, cw, cc * t, rr * t, t, d_lut, d_f ? d_f + tile * tile_elems : nullptr,
                                  d_b ? d_b + tile * tile_elems : nullptr);
            if (rc) return rc;
        }
    if (cw != t || chh != t) {
        uint8_t *g;
        rc = reserve(c, S_GLOBAL, (size_t)t * t * 3, &g, "cudaMalloc(global image)");
        if (!rc) rc = resize_dev(c, cur, cw, chh, g, t, t);
        if (rc) return rc;
        cur = g;
    }
    rc = write_region_dev(c, cur, t, 0, 0, t, d_lut, d_f ? d_f + tile * tile_elems : nullptr,
                          d_b ? d_b + tile * tile_elems : nullptr);
    if (rc) return rc;
    // every tile is written, so the canvas needs no clearing; the next image's kernels queue behind this copy
    return checked(c, cudaMemcpyAsync(host_out, out, out_bytes, cudaMemcpyDeviceToHost, c->stream),
                   "cudaMemcpyAsync(output tiles)");
}

extern "C" int32_t sd_cuda_preprocess(const smoldpo_image *images, int32_t count,
                                      const smoldpo_preprocess_config *cfg,
                                      const smoldpo_image_plan *plans,
                                      const smoldpo_batch_plan *batch, float *pixel_values,
                                      uint8_t *pixels_u8, smoldpo_error *err) {
    call c;
    int32_t rc = call_begin(&c, err);
    if (rc) return rc;
    float hlut[3 * 256];
    sd_build_lut(cfg, hlut);
    float *d_lut;
    rc = reserve(&c, S_LUT, sizeof hlut, &d_lut, "cudaMalloc(value table)");
    if (!rc) rc = checked(&c, cudaMemcpyAsync(d_lut, hlut, sizeof hlut, cudaMemcpyHostToDevice, c.stream),
                          "cudaMemcpyAsync(value table)");
    const size_t elem = pixel_values ? sizeof(float) : 1;
    const size_t tile_elems = (size_t)3 * batch->canvas_height * batch->canvas_width;
    for (int32_t i = 0; i < count && rc == SMOLDPO_OK; i++) {
        const size_t off = (size_t)plans[i].first_tile * tile_elems;
        void *host = pixel_values ? (void *)(pixel_values + off) : (void *)(pixels_u8 + off);
        rc = preprocess_one(&c, &images[i], cfg, &plans[i], tile_elems, elem, d_lut, host);
    }
    return call_end(&c, rc);
}

extern "C" int32_t sd_cuda_resize(const smoldpo_image *img, int32_t out_width, int32_t out_height,
                                  uint8_t *out_rgb, smoldpo_error *err) {
    call c;
    int32_t rc = call_begin(&c, err);
    if (rc) return rc;
    const size_t n = (size_t)out_width * out_height * 3;
    uint8_t *rgb = nullptr, *dst = nullptr;
    rc = upload_rgb(&c, img, &rgb);
    if (!rc) rc = reserve(&c, S_OUT, n, &dst, "cudaMalloc(resize output)");
    if (!rc) rc = resize_dev(&c, rgb, img->width, img->height, dst, out_width, out_height);
    if (!rc) rc = checked(&c, cudaMemcpyAsync(out_rgb, dst, n, cudaMemcpyDeviceToHost, c.stream),
                          "cudaMemcpyAsync(resize output)");
    return call_end(&c, rc);
}

// ---- DPO ------------------------------------------------------------------------------------

// Device output layout: the six per-pair outputs the caller may want, the six sums, then the
// log-probs the sums need; so one copy brings back everything the host reads.
enum { O_LOSS, O_GC, O_GR, O_RWC, O_RWR, O_MARGIN, O_USER = 6 };
enum { SUMS = 6 };

__global__ void k_dpo(int64_t n, int32_t type, double beta, double eps, const double *pc,
                      const double *pr, const double *rc, const double *rr, const int32_t *lc,
                      const int32_t *lr, double inv_b, double *o, double *lpc, double *lpr) {
    GRID_STRIDE(u, (size_t)n) {
        const int64_t i = (int64_t)u;
        sd_dpo_pair p;
        sd_dpo_pair_eval(type, beta, eps, pc[i], pr[i], rc ? rc[i] : 0.0, rr ? rr[i] : 0.0,
                         lc ? (double)lc[i] : 1.0, lr ? (double)lr[i] : 1.0, &p);
        o[O_LOSS * n + i] = p.loss;
        o[O_GC * n + i] = p.d_chosen * inv_b;
        o[O_GR * n + i] = p.d_rejected * inv_b;
        o[O_RWC * n + i] = p.reward_chosen;
        o[O_RWR * n + i] = p.reward_rejected;
        o[O_MARGIN * n + i] = p.reward_chosen - p.reward_rejected;
        lpc[i] = p.logp_chosen;
        lpr[i] = p.logp_rejected;
    }
}

// One block, deterministic: strided per-thread sums then a tree. sums: loss, rwc, rwr, acc, lpc, lpr
#define RED_THREADS 256
__global__ void k_dpo_reduce(int64_t n, const double *o, const double *lpc, const double *lpr, double *sums) {
    __shared__ double sh[SUMS][RED_THREADS];
    double s[SUMS] = {0, 0, 0, 0, 0, 0};
    for (int64_t i = threadIdx.x; i < n; i += RED_THREADS) {
        double a = o[O_RWC * n + i], b = o[O_RWR * n + i];
        s[0] += o[O_LOSS * n + i];
        s[1] += a;
        s[2] += b;
        s[3] += a > b ? 1.0 : 0.0;
        s[4] += lpc[i];
        s[5] += lpr[i];
    }
    for (int j = 0; j < SUMS; j++) sh[j][threadIdx.x] = s[j];
    __syncthreads();
    for (int w = RED_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w)
            for (int j = 0; j < SUMS; j++) sh[j][threadIdx.x] += sh[j][threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        for (int j = 0; j < SUMS; j++) sums[j] = sh[j][0];
}

extern "C" int32_t sd_cuda_dpo(int64_t batch, const double *pc, const double *pr, const double *rc,
                               const double *rr, const int32_t *lc, const int32_t *lr,
                               const smoldpo_dpo_params *params, const smoldpo_dpo_outputs *out,
                               smoldpo_dpo_summary *summary, smoldpo_error *err) {
    call c;
    int32_t rc_ = call_begin(&c, err);
    if (rc_) return rc_;
    const size_t nd = sizeof(double) * (size_t)batch, ni = sizeof(int32_t) * (size_t)batch;
    const bool lens = params->loss_type == SMOLDPO_LOSS_IPO;
    double *const host_out[O_USER] = {out->losses, out->grad_chosen, out->grad_rejected,
                                      out->rewards_chosen, out->rewards_rejected, out->margins};
    bool want_pairs = false;
    for (int j = 0; j < O_USER; j++) want_pairs |= host_out[j] != nullptr;
    // inputs staged in pinned memory and sent in one copy: [pc | pr | rc | rr] doubles, [lc | lr] ints
    const size_t in_bytes = 4 * nd + 2 * ni;
    const size_t out_bytes = (O_USER + 2) * nd + SUMS * sizeof(double);
    char *h_in, *d_in;
    double *h_out, *d_out;
    rc_ = reserve(&c, S_HOST_DPO_IN, in_bytes, &h_in, "cudaMallocHost(dpo inputs)");
    if (!rc_) rc_ = reserve(&c, S_HOST_DPO_OUT, out_bytes, &h_out, "cudaMallocHost(dpo outputs)");
    if (!rc_) rc_ = reserve(&c, S_DPO_IN, in_bytes, &d_in, "cudaMalloc(dpo inputs)");
    if (!rc_) rc_ = reserve(&c, S_DPO_OUT, out_bytes, &d_out, "cudaMalloc(dpo outputs)");
    if (rc_) return call_end(&c, rc_);
    memcpy(h_in, pc, nd);
    memcpy(h_in + nd, pr, nd);
    if (rc) memcpy(h_in + 2 * nd, rc, nd);
    if (rr) memcpy(h_in + 3 * nd, rr, nd);
    if (lens) {
        memcpy(h_in + 4 * nd, lc, ni);
        memcpy(h_in + 4 * nd + ni, lr, ni);
    }
    const double *d_pc = (const double *)d_in, *d_pr = d_pc + batch;
    const double *d_rc = rc ? d_pc + 2 * batch : nullptr, *d_rr = rr ? d_pc + 3 * batch : nullptr;
    const int32_t *d_lc = lens ? (const int32_t *)(d_in + 4 * nd) : nullptr;
    const int32_t *d_lr = lens ? d_lc + batch : nullptr;
    double *d_sums = d_out + O_USER * batch;
    double *d_lpc = d_sums + SUMS, *d_lpr = d_lpc + batch;
    rc_ = checked(&c, cudaMemcpyAsync(d_in, h_in, in_bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync(dpo inputs)");
    if (!rc_) {
        k_dpo<<<blocks_for((size_t)batch), THREADS, 0, c.stream>>>(batch, params->loss_type, params->beta,
                                                                    params->label_smoothing, d_pc, d_pr, d_rc, d_rr,
                                                                    d_lc, d_lr, 1.0 / (double)batch, d_out, d_lpc, d_lpr);
        rc_ = checked(&c, cudaGetLastError(), "k_dpo launch");
    }
    if (!rc_) {
        k_dpo_reduce<<<1, RED_THREADS, 0, c.stream>>>(batch, d_out, d_lpc, d_lpr, d_sums);
        rc_ = checked(&c, cudaGetLastError(), "k_dpo_reduce launch");
    }
    if (!rc_) {
        // the per-pair outputs and the sums are contiguous: one copy, or only the sums
        const size_t from = want_pairs ? 0 : O_USER * (size_t)batch;
        const size_t bytes = (O_USER * (size_t)batch + SUMS) * sizeof(double) - from * sizeof(double);
        rc_ = checked(&c, cudaMemcpyAsync(h_out + from, d_out + from, bytes, cudaMemcpyDeviceToHost, c.stream),
                      "cudaMemcpyAsync(dpo outputs)");
    }
    rc_ = call_sync(&c, rc_);
    if (rc_) return call_release(&c, rc_);
    for (int j = 0; j < O_USER; j++)
        if (host_out[j]) memcpy(host_out[j], h_out + (size_t)j * batch, nd);
    const double *sums = h_out + O_USER * batch;
    if (summary) {
        const double inv_b = 1.0 / (double)batch;
        summary->loss = sums[0] * inv_b;
        summary->rewards_chosen = sums[1] * inv_b;
        summary->rewards_rejected = sums[2] * inv_b;
        summary->rewards_accuracy = sums[3] * inv_b;
        summary->rewards_margin = (sums[1] - sums[2]) * inv_b;
        summary->logps_chosen = sums[4] * inv_b;
        summary->logps_rejected = sums[5] * inv_b;
    }
    return call_release(&c, SMOLDPO_OK);
}
