// CUDA implementation. Host arrays in, host arrays out; every runtime call is checked and turned
// into SMOLDPO_ERR_CUDA / SMOLDPO_ERR_CUDA_UNAVAILABLE, never an abort. The resampling
// coefficients come from the same host code as the CPU path (sd_coeffs_build) and all pixel
// arithmetic is integer, so CPU and CUDA images are bit-identical.
#include <cuda_runtime.h>

#include <stdlib.h>
#include <string.h>

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

// A device buffer that only grows.
struct dbuf {
    void *p;
    size_t n;
};

static cudaError_t dbuf_reserve(dbuf *b, size_t n) {
    if (b->n >= n) return cudaSuccess;
    if (b->p) cudaFree(b->p);
    b->p = NULL;
    b->n = 0;
    cudaError_t e = cudaMalloc(&b->p, n ? n : 1);
    if (e == cudaSuccess) b->n = n;
    return e;
}

static void dbuf_free(dbuf *b) {
    if (b->p) cudaFree(b->p);
    b->p = NULL;
    b->n = 0;
}

// ---- kernels --------------------------------------------------------------------------------

__global__ void k_to_rgb(const uint8_t *src, int w, int h, int c, int layout, uint8_t *dst) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x >= w || y >= h) return;
    sd_load_rgb(src + ((size_t)y * w + x) * c, c, layout, dst + ((size_t)y * w + x) * 3);
}

// Horizontal pass: out row y comes from input row (y + row0).
__global__ void k_resize_h(const uint8_t *in, int in_w, int row0, int rows, const int32_t *bounds,
                           const int32_t *kk, int ks, uint8_t *out, int out_w) {
    int xx = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (xx >= out_w || y >= rows) return;
    const int xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
    const int32_t *k = kk + (size_t)xx * ks;
    const uint8_t *p = in + ((size_t)(y + row0) * in_w + xmin) * 3;
    int32_t s0 = 1 << (SD_PRECISION_BITS - 1), s1 = s0, s2 = s0;
    for (int x = 0; x < n; x++) {
        s0 += p[3 * x] * k[x];
        s1 += p[3 * x + 1] * k[x];
        s2 += p[3 * x + 2] * k[x];
    }
    uint8_t *o = out + ((size_t)y * out_w + xx) * 3;
    o[0] = sd_clip8(s0);
    o[1] = sd_clip8(s1);
    o[2] = sd_clip8(s2);
}

// Vertical pass over byte columns (width3 = width * 3); input row r holds source row r + row0.
__global__ void k_resize_v(const uint8_t *in, int width3, int row0, const int32_t *bounds,
                           const int32_t *kk, int ks, uint8_t *out, int out_h) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, yy = blockIdx.y;
    if (i >= width3 || yy >= out_h) return;
    const int ymin = bounds[2 * yy] - row0, n = bounds[2 * yy + 1];
    const int32_t *k = kk + (size_t)yy * ks;
    int32_t s = 1 << (SD_PRECISION_BITS - 1);
    for (int y = 0; y < n; y++) s += in[(size_t)(ymin + y) * width3 + i] * k[y];
    out[(size_t)yy * width3 + i] = sd_clip8(s);
}

// One h x w RGB region at (x0, y0) of src into a CHW canvas (floats through lut, or bytes).
__global__ void k_write_region(const uint8_t *src, int src_w, int x0, int y0, int h, int w,
                               int canvas_h, int canvas_w, const float *lut, float *fout,
                               uint8_t *bout) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y, ch = blockIdx.z;
    if (x >= w || y >= h) return;
    uint8_t v = src[((size_t)(y0 + y) * src_w + x0 + x) * 3 + ch];
    size_t o = ((size_t)ch * canvas_h + y) * canvas_w + x;
    if (fout)
        fout[o] = lut[ch * 256 + v];
    else
        bout[o] = v;
}

// ---- resize ---------------------------------------------------------------------------------

struct rctx {
    dbuf coef_h, coef_v, tmp;
};

static int32_t upload_coeffs(dbuf *b, const sd_coeffs *c, int32_t **d_bounds, int32_t **d_k,
                             smoldpo_error *err) {
    size_t nb = sizeof(int32_t) * 2 * (size_t)c->out_size;
    size_t nk = sizeof(int32_t) * (size_t)c->out_size * c->ksize;
    cudaError_t e = dbuf_reserve(b, nb + nk);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaMalloc(coefficients)");
    *d_bounds = (int32_t *)b->p;
    *d_k = (int32_t *)((char *)b->p + nb);
    e = cudaMemcpy(*d_bounds, c->bounds, nb, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(*d_k, c->k, nk, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaMemcpy(coefficients)");
    return SMOLDPO_OK;
}

// d_src (sw x sh RGB) -> d_dst (dw x dh RGB); same pass structure as the CPU code (and PIL).
static int32_t resize_dev(rctx *r, const uint8_t *d_src, int sw, int sh, uint8_t *d_dst, int dw,
                          int dh, smoldpo_error *err) {
    const bool need_h = dw != sw, need_v = dh != sh;
    cudaError_t e;
    if (!need_h && !need_v) {
        e = cudaMemcpy(d_dst, d_src, (size_t)sw * sh * 3, cudaMemcpyDeviceToDevice);
        return e == cudaSuccess ? SMOLDPO_OK : cuda_fail(err, e, "cudaMemcpy(resize copy)");
    }
    sd_coeffs cv, chz;
    memset(&chz, 0, sizeof chz);
    if (sd_coeffs_build(&cv, sh, dh))
        return sd_fail(err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for resize coefficients");
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
            rc = sd_fail(err, SMOLDPO_ERR_OUT_OF_MEMORY, "out of host memory for resize coefficients");
            goto done;
        }
        if (need_v) {
            e = dbuf_reserve(&r->tmp, (size_t)rows * dw * 3);
            if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMalloc(resize temp)"); goto done; }
            hout = (uint8_t *)r->tmp.p;
        }
        rc = upload_coeffs(&r->coef_h, &chz, &db, &dk, err);
        if (rc) goto done;
        {
            dim3 block(128), grid((dw + 127) / 128, rows);
            k_resize_h<<<grid, block>>>(d_src, sw, row0, rows, db, dk, chz.ksize, hout, dw);
        }
        e = cudaGetLastError();
        if (e != cudaSuccess) { rc = cuda_fail(err, e, "k_resize_h launch"); goto done; }
        vin = hout;
        vin_row0 = row0;
    }
    if (need_v) {
        int32_t *db, *dk;
        rc = upload_coeffs(&r->coef_v, &cv, &db, &dk, err);
        if (rc) goto done;
        {
            const int width3 = dw * 3;
            dim3 block(256), grid((width3 + 255) / 256, dh);
            k_resize_v<<<grid, block>>>(vin, width3, vin_row0, db, dk, cv.ksize, d_dst, dh);
        }
        e = cudaGetLastError();
        if (e != cudaSuccess) { rc = cuda_fail(err, e, "k_resize_v launch"); goto done; }
    }
    // coefficient buffers are reused by the next call: finish before the host side moves on
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) rc = cuda_fail(err, e, "resize kernels");
done:
    sd_coeffs_free(&cv);
    sd_coeffs_free(&chz);
    return rc;
}

// Upload one source image and convert it to compact RGB in d_rgb (reserved by the caller).
static int32_t upload_rgb(const smoldpo_image *img, dbuf *src, dbuf *rgb, smoldpo_error *err) {
    const size_t row = (size_t)img->width * img->channels;
    cudaError_t e = dbuf_reserve(src, row * img->height);
    if (e == cudaSuccess) e = dbuf_reserve(rgb, (size_t)img->width * img->height * 3);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaMalloc(source image)");
    e = cudaMemcpy2D(src->p, row, img->data, (size_t)sd_row_stride(img), row, img->height,
                     cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaMemcpy2D(source image)");
    dim3 block(128), grid((img->width + 127) / 128, img->height);
    k_to_rgb<<<grid, block>>>((const uint8_t *)src->p, img->width, img->height, img->channels,
                              img->layout, (uint8_t *)rgb->p);
    e = cudaGetLastError();
    return e == cudaSuccess ? SMOLDPO_OK : cuda_fail(err, e, "k_to_rgb launch");
}

static int32_t write_region_dev(const uint8_t *d_src, int src_w, int x0, int y0, int h, int w,
                                int canvas_h, int canvas_w, const float *d_lut, float *d_f,
                                uint8_t *d_b, smoldpo_error *err) {
    dim3 block(128), grid((w + 127) / 128, h, 3);
    k_write_region<<<grid, block>>>(d_src, src_w, x0, y0, h, w, canvas_h, canvas_w, d_lut, d_f, d_b);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? SMOLDPO_OK : cuda_fail(err, e, "k_write_region launch");
}

extern "C" int32_t sd_cuda_preprocess(const smoldpo_image *images, int32_t count,
                                      const smoldpo_preprocess_config *cfg,
                                      const smoldpo_image_plan *plans,
                                      const smoldpo_batch_plan *batch, float *pixel_values,
                                      uint8_t *pixels_u8, smoldpo_error *err) {
    int32_t rc = require_device(err);
    if (rc) return rc;
    rctx r;
    memset(&r, 0, sizeof r);
    dbuf src = {0, 0}, rgb = {0, 0}, r1 = {0, 0}, r2 = {0, 0}, g = {0, 0}, out = {0, 0}, lut = {0, 0};
    float hlut[3 * 256];
    cudaError_t e;
    const int ch_ = batch->canvas_height, cw_ = batch->canvas_width;
    const size_t elem = pixel_values ? sizeof(float) : 1;
    const size_t tile_elems = (size_t)3 * ch_ * cw_;
    sd_build_lut(cfg, hlut);
    e = dbuf_reserve(&lut, sizeof hlut);
    if (e == cudaSuccess) e = cudaMemcpy(lut.p, hlut, sizeof hlut, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) { rc = cuda_fail(err, e, "lut upload"); goto done; }
    for (int32_t i = 0; i < count && rc == SMOLDPO_OK; i++) {
        const smoldpo_image *img = &images[i];
        const smoldpo_image_plan *p = &plans[i];
        float *d_f;
        uint8_t *d_b;
        const uint8_t *cur;
        int cw, chh;
        size_t tile = 0;
        rc = upload_rgb(img, &src, &rgb, err);
        if (rc) break;
        cur = (const uint8_t *)rgb.p;
        cw = img->width;
        chh = img->height;
        e = dbuf_reserve(&out, tile_elems * p->tile_count * elem);
        if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMalloc(output tiles)"); break; }
        e = cudaMemset(out.p, 0, tile_elems * p->tile_count * elem);
        if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMemset(output tiles)"); break; }
        d_f = pixel_values ? (float *)out.p : NULL;
        d_b = pixel_values ? NULL : (uint8_t *)out.p;
        if (p->resized_width != cw || p->resized_height != chh) {
            e = dbuf_reserve(&r1, (size_t)p->resized_width * p->resized_height * 3);
            if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMalloc(resized image)"); break; }
            rc = resize_dev(&r, cur, cw, chh, (uint8_t *)r1.p, p->resized_width, p->resized_height, err);
            if (rc) break;
            cur = (const uint8_t *)r1.p;
            cw = p->resized_width;
            chh = p->resized_height;
        }
        // the resize to tile multiples, or without splitting to the tile square (split size
        // t x t and a 0 x 0 grid: the squared image is written as the global image)
        const int t = cfg->tile_size;
        if (p->split_width != cw || p->split_height != chh) {
            e = dbuf_reserve(&r2, (size_t)p->split_width * p->split_height * 3);
            if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMalloc(split image)"); break; }
            rc = resize_dev(&r, cur, cw, chh, (uint8_t *)r2.p, p->split_width, p->split_height, err);
            if (rc) break;
            cur = (const uint8_t *)r2.p;
            cw = p->split_width;
            chh = p->split_height;
        }
        for (int rr = 0; rr < p->rows && !rc; rr++)
            for (int cc = 0; cc < p->cols && !rc; cc++, tile++)
                rc = write_region_dev(cur, cw, cc * t, rr * t, t, t, t, t, (const float *)lut.p,
                                      d_f ? d_f + tile * tile_elems : NULL,
                                      d_b ? d_b + tile * tile_elems : NULL, err);
        if (rc) break;
        if (cw != t || chh != t) {
            e = dbuf_reserve(&g, (size_t)t * t * 3);
            if (e != cudaSuccess) { rc = cuda_fail(err, e, "cudaMalloc(global image)"); break; }
            rc = resize_dev(&r, cur, cw, chh, (uint8_t *)g.p, t, t, err);
            if (rc) break;
            cur = (const uint8_t *)g.p;
        }
        rc = write_region_dev(cur, t, 0, 0, t, t, t, t, (const float *)lut.p,
                              d_f ? d_f + tile * tile_elems : NULL,
                              d_b ? d_b + tile * tile_elems : NULL, err);
        if (rc) break;
        {
            size_t off = (size_t)p->first_tile * tile_elems;
            void *host = pixel_values ? (void *)(pixel_values + off) : (void *)(pixels_u8 + off);
            e = cudaMemcpy(host, out.p, tile_elems * p->tile_count * elem, cudaMemcpyDeviceToHost);
            if (e != cudaSuccess) rc = cuda_fail(err, e, "cudaMemcpy(output tiles)");
        }
    }
done:
    dbuf_free(&src);
    dbuf_free(&rgb);
    dbuf_free(&r1);
    dbuf_free(&r2);
    dbuf_free(&g);
    dbuf_free(&out);
    dbuf_free(&lut);
    dbuf_free(&r.coef_h);
    dbuf_free(&r.coef_v);
    dbuf_free(&r.tmp);
    return rc;
}

extern "C" int32_t sd_cuda_resize(const smoldpo_image *img, int32_t out_width, int32_t out_height,
                                  uint8_t *out_rgb, smoldpo_error *err) {
    int32_t rc = require_device(err);
    if (rc) return rc;
    rctx r;
    memset(&r, 0, sizeof r);
    dbuf src = {0, 0}, rgb = {0, 0}, dst = {0, 0};
    const size_t n = (size_t)out_width * out_height * 3;
    cudaError_t e;
    rc = upload_rgb(img, &src, &rgb, err);
    if (!rc) {
        e = dbuf_reserve(&dst, n);
        if (e != cudaSuccess) rc = cuda_fail(err, e, "cudaMalloc(resize output)");
    }
    if (!rc) rc = resize_dev(&r, (const uint8_t *)rgb.p, img->width, img->height, (uint8_t *)dst.p,
                             out_width, out_height, err);
    if (!rc) {
        e = cudaMemcpy(out_rgb, dst.p, n, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) rc = cuda_fail(err, e, "cudaMemcpy(resize output)");
    }
    dbuf_free(&src);
    dbuf_free(&rgb);
    dbuf_free(&dst);
    dbuf_free(&r.coef_h);
    dbuf_free(&r.coef_v);
    dbuf_free(&r.tmp);
    return rc;
}

// ---- DPO ------------------------------------------------------------------------------------

enum { O_LOSS, O_GC, O_GR, O_RWC, O_RWR, O_MARGIN, O_LPC, O_LPR, O_COUNT };

__global__ void k_dpo(int64_t n, int32_t type, double beta, double eps, const double *pc,
                      const double *pr, const double *rc, const double *rr, const int32_t *lc,
                      const int32_t *lr, double inv_b, double *o) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    sd_dpo_pair p;
    sd_dpo_pair_eval(type, beta, eps, pc[i], pr[i], rc ? rc[i] : 0.0, rr ? rr[i] : 0.0,
                     lc ? (double)lc[i] : 1.0, lr ? (double)lr[i] : 1.0, &p);
    o[O_LOSS * n + i] = p.loss;
    o[O_GC * n + i] = p.d_chosen * inv_b;
    o[O_GR * n + i] = p.d_rejected * inv_b;
    o[O_RWC * n + i] = p.reward_chosen;
    o[O_RWR * n + i] = p.reward_rejected;
    o[O_MARGIN * n + i] = p.reward_chosen - p.reward_rejected;
    o[O_LPC * n + i] = p.logp_chosen;
    o[O_LPR * n + i] = p.logp_rejected;
}

// One block, deterministic: strided per-thread sums then a tree. sums: loss, rwc, rwr, acc, lpc, lpr
#define RED_THREADS 256
__global__ void k_dpo_reduce(int64_t n, const double *o, double *sums) {
    __shared__ double sh[6][RED_THREADS];
    double s[6] = {0, 0, 0, 0, 0, 0};
    for (int64_t i = threadIdx.x; i < n; i += RED_THREADS) {
        double a = o[O_RWC * n + i], b = o[O_RWR * n + i];
        s[0] += o[O_LOSS * n + i];
        s[1] += a;
        s[2] += b;
        s[3] += a > b ? 1.0 : 0.0;
        s[4] += o[O_LPC * n + i];
        s[5] += o[O_LPR * n + i];
    }
    for (int j = 0; j < 6; j++) sh[j][threadIdx.x] = s[j];
    __syncthreads();
    for (int w = RED_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w)
            for (int j = 0; j < 6; j++) sh[j][threadIdx.x] += sh[j][threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        for (int j = 0; j < 6; j++) sums[j] = sh[j][0];
}

extern "C" int32_t sd_cuda_dpo(int64_t batch, const double *pc, const double *pr, const double *rc,
                               const double *rr, const int32_t *lc, const int32_t *lr,
                               const smoldpo_dpo_params *params, const smoldpo_dpo_outputs *out,
                               smoldpo_dpo_summary *summary, smoldpo_error *err) {
    int32_t rc_ = require_device(err);
    if (rc_) return rc_;
    const size_t nd = sizeof(double) * (size_t)batch, ni = sizeof(int32_t) * (size_t)batch;
    const bool lens = params->loss_type == SMOLDPO_LOSS_IPO;
    dbuf in = {0, 0}, o = {0, 0};
    double *d_pc, *d_pr, *d_rc = NULL, *d_rr = NULL, *d_o, *d_sums;
    int32_t *d_lc = NULL, *d_lr = NULL;
    double sums[6];
    double *const host_out[6] = {out->losses, out->grad_chosen, out->grad_rejected,
                                 out->rewards_chosen, out->rewards_rejected, out->margins};
    cudaError_t e = dbuf_reserve(&in, 4 * nd + 2 * ni);
    if (e == cudaSuccess) e = dbuf_reserve(&o, O_COUNT * nd + 6 * sizeof(double));
    if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "cudaMalloc(dpo)"); goto done; }
    d_pc = (double *)in.p;
    d_pr = d_pc + batch;
    if (rc) d_rc = d_pc + 2 * batch;
    if (rr) d_rr = d_pc + 3 * batch;
    if (lens) {
        d_lc = (int32_t *)(d_pc + 4 * batch);
        d_lr = d_lc + batch;
    }
    d_o = (double *)o.p;
    d_sums = d_o + O_COUNT * batch;
    e = cudaMemcpy(d_pc, pc, nd, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(d_pr, pr, nd, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && d_rc) e = cudaMemcpy(d_rc, rc, nd, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && d_rr) e = cudaMemcpy(d_rr, rr, nd, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && d_lc) e = cudaMemcpy(d_lc, lc, ni, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && d_lr) e = cudaMemcpy(d_lr, lr, ni, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "cudaMemcpy(dpo inputs)"); goto done; }
    {
        const int threads = 256;
        const unsigned blocks = (unsigned)((batch + threads - 1) / threads);
        k_dpo<<<blocks, threads>>>(batch, params->loss_type, params->beta, params->label_smoothing,
                                   d_pc, d_pr, d_rc, d_rr, d_lc, d_lr, 1.0 / (double)batch, d_o);
        e = cudaGetLastError();
        if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "k_dpo launch"); goto done; }
        k_dpo_reduce<<<1, RED_THREADS>>>(batch, d_o, d_sums);
        e = cudaGetLastError();
        if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "k_dpo_reduce launch"); goto done; }
    }
    for (int j = 0; j < 6; j++) {
        if (!host_out[j]) continue;
        e = cudaMemcpy(host_out[j], d_o + (size_t)j * batch, nd, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "cudaMemcpy(dpo outputs)"); goto done; }
    }
    e = cudaMemcpy(sums, d_sums, sizeof sums, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) { rc_ = cuda_fail(err, e, "cudaMemcpy(dpo sums)"); goto done; }
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
done:
    dbuf_free(&in);
    dbuf_free(&o);
    return rc_;
}
