/* smoldpo_bench: the native kernels on the CPU and on CUDA at fit's shapes, side by side, so that
 * fit's choice of device for each kernel follows a measurement (native/README.md, "Which device fit
 * uses"). Needs only libsmoldpo: it runs on a bare GPU host without Java.
 *
 *   smoldpo_bench [--json FILE] [--iterations K] [--require-cuda]
 *
 * Prints one line per case and, with --json, writes the same figures as JSON (schema below, stable:
 * a reader may rely on the field names). Every case also checks that CUDA gives the CPU's bytes.
 * Exit status: 0 done, 1 a CUDA result differed or a call failed, 2 bad arguments,
 * 3 --require-cuda and no usable CUDA device. */
#define _POSIX_C_SOURCE 200809L
#include "smoldpo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_ITER 1000

typedef struct {
    const char *kernel; /* "preprocess" | "dpo_loss" */
    char shape[64];
    int fit_shape;      /* 1: a size fit meets (these decide); 0: for reference only */
    double cpu_ms, cuda_ms; /* medians; cuda_ms < 0 when not run */
    int identical;      /* CUDA output == CPU output (1), differs (0), not run (-1) */
} result;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- preprocessing ---------------------------------------------------------------------------- */

typedef struct {
    smoldpo_image *images;
    uint8_t **pixels;
    int count;
    smoldpo_preprocess_config cfg;
    float *out;
    int64_t out_len;
} pre_case;

/* A photo-like image: gradients, a disc and noise (deterministic). */
static uint8_t *photo(int w, int h, unsigned seed) {
    uint8_t *p = malloc((size_t)w * h * 3);
    const double cx = w * 0.4, cy = h * 0.6, r = (w < h ? w : h) * 0.3;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *o = p + ((size_t)y * w + x) * 3;
            int n = (int)((seed = seed * 1103515245u + 12345u) >> 27) - 16;
            int red = 255 * x / w, green = 255 * y / h, blue = (int)(128 + 100 * sin(x * 0.05 + y * 0.03));
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r) red = 230, green = 60 + (x & 31), blue = 40;
            o[0] = (uint8_t)fmin(255, fmax(0, red + n));
            o[1] = (uint8_t)fmin(255, fmax(0, green + n));
            o[2] = (uint8_t)fmin(255, fmax(0, blue + n));
        }
    return p;
}

static int pre_init(pre_case *c, int count, int w, int h) {
    c->count = count;
    c->images = calloc((size_t)count, sizeof *c->images);
    c->pixels = calloc((size_t)count, sizeof *c->pixels);
    for (int i = 0; i < count; i++) {
        c->pixels[i] = photo(w, h, 100u + (unsigned)i);
        c->images[i] = (smoldpo_image){c->pixels[i], (int64_t)w * h * 3, w, h, 3, SMOLDPO_LAYOUT_RGB, 0};
    }
    smoldpo_preprocess_config_init(&c->cfg); /* SmolVLM: longest edge 2048, 512 tiles */
    smoldpo_batch_plan bp;
    smoldpo_error err;
    if (smoldpo_preprocess_plan(c->images, count, &c->cfg, NULL, &bp, &err)) {
        fprintf(stderr, "plan: %s\n", err.message);
        return 1;
    }
    c->out_len = bp.pixel_values_len;
    c->out = malloc(sizeof(float) * (size_t)c->out_len);
    return 0;
}

static int pre_run(pre_case *c, int device) {
    smoldpo_error err;
    int rc = smoldpo_preprocess(device, c->images, c->count, &c->cfg, NULL, c->out, c->out_len, NULL, 0, &err);
    if (rc) fprintf(stderr, "preprocess on device %d: %s\n", device, err.message);
    return rc;
}

static void pre_free(pre_case *c) {
    for (int i = 0; i < c->count; i++) free(c->pixels[i]);
    free(c->pixels);
    free(c->images);
    free(c->out);
}

/* ---- DPO loss ------------------------------------------------------------------------------- */

typedef struct {
    int64_t n;
    double *pc, *pr, *rc, *rr, *out[6];
    smoldpo_dpo_summary s;
} dpo_case;

static void dpo_init(dpo_case *c, int64_t n) {
    c->n = n;
    double **in[4] = {&c->pc, &c->pr, &c->rc, &c->rr};
    unsigned seed = 7;
    for (int k = 0; k < 4; k++) {
        *in[k] = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) (*in[k])[i] = -1.0 - (double)((seed = seed * 1103515245u + 12345u) >> 16) / 655.36;
    }
    for (int k = 0; k < 6; k++) c->out[k] = malloc(sizeof(double) * (size_t)n);
}

static int dpo_run(dpo_case *c, int device) {
    smoldpo_dpo_params p = {SMOLDPO_LOSS_SIGMOID, 0, 0.1, 0.0};
    smoldpo_dpo_outputs o = {c->out[0], c->out[1], c->out[2], c->out[3], c->out[4], c->out[5]};
    smoldpo_error err;
    int rc = smoldpo_dpo_loss(device, c->n, c->pc, c->pr, c->rc, c->rr, NULL, NULL, &p, &o, &c->s, &err);
    if (rc) fprintf(stderr, "dpo loss on device %d: %s\n", device, err.message);
    return rc;
}

static void dpo_free(dpo_case *c) {
    free(c->pc);
    free(c->pr);
    free(c->rc);
    free(c->rr);
    for (int k = 0; k < 6; k++) free(c->out[k]);
}

/* ---- timing ----------------------------------------------------------------------------------- */

typedef int (*run_fn)(void *c, int device);
static int run_pre(void *c, int d) { return pre_run(c, d); }
static int run_dpo(void *c, int d) { return dpo_run(c, d); }

/* Median of k timed calls after one warm-up call (which pays for buffers and CUDA's start). */
static double median_ms(run_fn f, void *c, int device, int k, int *failed) {
    double t[MAX_ITER];
    if (f(c, device)) {
        *failed = 1;
        return -1;
    }
    for (int i = 0; i < k; i++) {
        double t0 = now_ms();
        if (f(c, device)) {
            *failed = 1;
            return -1;
        }
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)k, sizeof(double), cmp_double);
    return k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
}

static int bench_case(result *r, run_fn f, void *c, void *snapshot, const void *output, size_t output_bytes,
                      int k, int cuda) {
    int failed = 0;
    r->cpu_ms = median_ms(f, c, SMOLDPO_DEVICE_CPU, k, &failed);
    r->cuda_ms = -1;
    r->identical = -1;
    if (!failed && cuda) {
        memcpy(snapshot, output, output_bytes);
        r->cuda_ms = median_ms(f, c, SMOLDPO_DEVICE_CUDA, k, &failed);
        r->identical = !failed && memcmp(snapshot, output, output_bytes) == 0;
    }
    return failed;
}

int main(int argc, char **argv) {
    const char *json = NULL;
    int iterations = 7, require_cuda = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--require-cuda")) require_cuda = 1;
        else {
            fprintf(stderr, "usage: %s [--json FILE] [--iterations K (1..%d)] [--require-cuda]\n", argv[0], MAX_ITER);
            return 2;
        }
    }
    if (iterations < 1 || iterations > MAX_ITER) {
        fprintf(stderr, "--iterations must be in 1..%d\n", MAX_ITER);
        return 2;
    }
    const int devices = smoldpo_cuda_device_count();
    const int cuda = devices > 0;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("smoldpo_bench: libsmoldpo api %d, CUDA compiled %d, CUDA devices %d, CPU threads %d, median of %d calls\n",
           smoldpo_api_version(), smoldpo_cuda_compiled(), devices, threads, iterations);
    if (require_cuda && !cuda) {
        fprintf(stderr, "smoldpo_bench: --require-cuda, but no CUDA device is usable (library compiled with CUDA: %d)\n",
                smoldpo_cuda_compiled());
        return 3;
    }
    /* fit preprocesses each micro-batch's images (one per pair, SmolVLM defaults) and runs the loss on
     * per_device_train_batch_size pairs; the large cases show where the crossover lies */
    static const struct { int count, w, h, fit; } PRE[] = {
        {1, 1024, 768, 1}, {4, 1024, 768, 1}, {1, 4032, 3024, 1}, {16, 1024, 768, 0}};
    static const struct { int64_t n; int fit; } DPO[] = {{1, 1}, {8, 1}, {64, 1}, {1 << 20, 0}};
    result res[8];
    int nres = 0, failed = 0;
    for (size_t i = 0; i < sizeof PRE / sizeof PRE[0]; i++) {
        pre_case c;
        result *r = &res[nres++];
        r->kernel = "preprocess";
        r->fit_shape = PRE[i].fit;
        snprintf(r->shape, sizeof r->shape, "%dx%dx%d", PRE[i].count, PRE[i].w, PRE[i].h);
        if (pre_init(&c, PRE[i].count, PRE[i].w, PRE[i].h)) return 1;
        float *snap = malloc(sizeof(float) * (size_t)c.out_len);
        failed |= bench_case(r, run_pre, &c, snap, c.out, sizeof(float) * (size_t)c.out_len, iterations, cuda);
        free(snap);
        pre_free(&c);
    }
    for (size_t i = 0; i < sizeof DPO / sizeof DPO[0]; i++) {
        dpo_case c;
        result *r = &res[nres++];
        r->kernel = "dpo_loss";
        r->fit_shape = DPO[i].fit;
        snprintf(r->shape, sizeof r->shape, "%lld pairs", (long long)DPO[i].n);
        dpo_init(&c, DPO[i].n);
        /* the losses and gradients must agree to 1e-12 relative (double; CUDA's exp/log1p may round
         * differently in the last place), so compare them rather than bytes */
        double *snap = malloc(sizeof(double) * (size_t)c.n * 2);
        int f = 0;
        r->cpu_ms = median_ms(run_dpo, &c, SMOLDPO_DEVICE_CPU, iterations, &f);
        r->cuda_ms = -1;
        r->identical = -1;
        if (!f && cuda) {
            memcpy(snap, c.out[0], sizeof(double) * (size_t)c.n);
            memcpy(snap + c.n, c.out[1], sizeof(double) * (size_t)c.n);
            r->cuda_ms = median_ms(run_dpo, &c, SMOLDPO_DEVICE_CUDA, iterations, &f);
            r->identical = !f;
            for (int64_t k = 0; k < c.n && r->identical; k++)
                r->identical = fabs(snap[k] - c.out[0][k]) <= 1e-12 * fmax(1e-300, fabs(snap[k])) &&
                               fabs(snap[c.n + k] - c.out[1][k]) <= 1e-12 * fmax(1e-300, fabs(snap[c.n + k]));
        }
        failed |= f;
        free(snap);
        dpo_free(&c);
    }
    /* The rule fit follows: a kernel runs on CUDA only when CUDA is at least 10% faster than the CPU
     * on every fit-sized case and gives the CPU's results; otherwise it stays on the CPU. */
    const char *kernels[2] = {"preprocess", "dpo_loss"};
    const char *decision[2];
    int mismatch = 0;
    for (int k = 0; k < 2; k++) {
        int cuda_wins = cuda;
        for (int i = 0; i < nres; i++) {
            if (strcmp(res[i].kernel, kernels[k])) continue;
            mismatch |= res[i].identical == 0;
            if (res[i].fit_shape && !(res[i].cuda_ms >= 0 && res[i].identical == 1 && res[i].cuda_ms <= 0.9 * res[i].cpu_ms))
                cuda_wins = 0;
        }
        decision[k] = cuda_wins ? "cuda" : "cpu";
    }
    printf("%-10s %-16s %4s %12s %12s %10s %10s\n", "kernel", "shape", "fit", "cpu ms", "cuda ms", "cuda/cpu", "identical");
    for (int i = 0; i < nres; i++) {
        result *r = &res[i];
        char cu[32] = "-", ratio[32] = "-";
        if (r->cuda_ms >= 0) {
            snprintf(cu, sizeof cu, "%.3f", r->cuda_ms);
            snprintf(ratio, sizeof ratio, "%.3f", r->cuda_ms / r->cpu_ms);
        }
        printf("%-10s %-16s %4s %12.3f %12s %10s %10s\n", r->kernel, r->shape, r->fit_shape ? "yes" : "no", r->cpu_ms,
               cu, ratio, r->identical < 0 ? "-" : r->identical ? "yes" : "NO");
    }
    printf("decision (CUDA only if >= 10%% faster on every fit shape and identical): preprocess %s, dpo_loss %s\n",
           decision[0], decision[1]);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "cannot write %s\n", json);
            return 1;
        }
        fprintf(f, "{\n  \"tool\": \"smoldpo_bench\",\n  \"schema\": 1,\n  \"api_version\": %d,\n  \"cuda_compiled\": %s,\n"
                   "  \"cuda_devices\": %d,\n  \"cpu_threads\": %d,\n  \"iterations\": %d,\n  \"cases\": [\n",
                smoldpo_api_version(), smoldpo_cuda_compiled() ? "true" : "false", devices, threads, iterations);
        for (int i = 0; i < nres; i++) {
            result *r = &res[i];
            fprintf(f, "    {\"kernel\": \"%s\", \"shape\": \"%s\", \"fit_shape\": %s, \"cpu_ms\": %.6f, ", r->kernel, r->shape,
                    r->fit_shape ? "true" : "false", r->cpu_ms);
            if (r->cuda_ms >= 0)
                fprintf(f, "\"cuda_ms\": %.6f, \"cuda_over_cpu\": %.6f, \"identical\": %s}", r->cuda_ms, r->cuda_ms / r->cpu_ms,
                        r->identical ? "true" : "false");
            else
                fprintf(f, "\"cuda_ms\": null, \"cuda_over_cpu\": null, \"identical\": null}");
            fprintf(f, "%s\n", i + 1 < nres ? "," : "");
        }
        fprintf(f, "  ],\n  \"decision\": {\"preprocess\": \"%s\", \"dpo_loss\": \"%s\"},\n  \"decision_basis\": \"%s\"\n}\n",
                decision[0], decision[1], cuda ? "measured" : "no CUDA device: CPU by default");
        fclose(f);
    }
    if (mismatch) fprintf(stderr, "smoldpo_bench: a CUDA result differs from the CPU's\n");
    return failed || mismatch ? 1 : 0;
}
