/* C tests of libsmoldpo, run by ctest: smoldpo_tests <group> <goldens-dir> */
#include "smoldpo.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int failures = 0;

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ---- DPO ---------------------------------------------------------------------------------- */

typedef struct {
    double loss[4], gc[4], gr[4], rwc[4], rwr[4], m[4];
    smoldpo_dpo_summary s;
    int rc;
    smoldpo_error err;
} dpo_run;

static void run_dpo(int device, int n, const double *pc, const double *pr, const double *rc,
                    const double *rr, const int32_t *lc, const int32_t *lr, int type, int flags,
                    double beta, double eps, dpo_run *r) {
    memset(r, 0, sizeof *r);
    smoldpo_dpo_params p = {type, flags, beta, eps};
    smoldpo_dpo_outputs o = {r->loss, r->gc, r->gr, r->rwc, r->rwr, r->m};
    r->rc = smoldpo_dpo_loss(device, n, pc, pr, rc, rr, lc, lr, &p, &o, &r->s, &r->err);
}

static const double PC[4] = {-12.5, -30.0, -7.25, -50.0};
static const double PR[4] = {-14.0, -28.5, -9.0, -49.0};
static const double RC[4] = {-13.0, -29.0, -8.0, -51.5};
static const double RR[4] = {-13.5, -29.5, -8.5, -48.0};
static const int32_t LC[4] = {5, 12, 3, 20};
static const int32_t LR[4] = {7, 10, 4, 18};

/* closed-form per-pair loss, written independently of the library */
static double expected_loss(int type, double beta, double eps, int i, int ref_free) {
    double rc = ref_free ? 0 : RC[i], rr = ref_free ? 0 : RR[i];
    double pc = PC[i], pr = PR[i];
    if (type == SMOLDPO_LOSS_IPO) {
        pc /= LC[i]; rc /= LC[i]; pr /= LR[i]; rr /= LR[i];
    }
    double dc = pc - rc, dr = pr - rr, z = beta * (dc - dr);
    switch (type) {
    case SMOLDPO_LOSS_SIGMOID: return -(1 - eps) * log(sigm(z)) - eps * log(sigm(-z));
    case SMOLDPO_LOSS_ROBUST: return (-(1 - eps) * log(sigm(z)) + eps * log(sigm(-z))) / (1 - 2 * eps);
    case SMOLDPO_LOSS_HINGE: return fmax(0.0, 1 - z);
    case SMOLDPO_LOSS_IPO: return pow((dc - dr) - 1 / (2 * beta), 2);
    case SMOLDPO_LOSS_APO_ZERO: return 1 - sigm(beta * dc) + sigm(beta * dr);
    case SMOLDPO_LOSS_SPPO_HARD: return pow(dc - 1 / (2 * beta), 2) + pow(dr + 1 / (2 * beta), 2);
    case SMOLDPO_LOSS_NCA_PAIR: return -log(sigm(beta * dc)) - 0.5 * log(sigm(-beta * dc)) - 0.5 * log(sigm(-beta * dr));
    case SMOLDPO_LOSS_APO_DOWN: return sigm(beta * dc) + 1 - sigm(z);
    }
    return NAN;
}

static void test_dpo(void) {
    const double betas[2] = {0.1, 0.5};
    for (int type = 0; type <= SMOLDPO_LOSS_APO_DOWN; type++) {
        for (int bi = 0; bi < 2; bi++) {
            for (int ref_free = 0; ref_free < 2; ref_free++) {
                double beta = betas[bi], eps = (type <= 1) ? 0.1 : 0.0;
                dpo_run r;
                run_dpo(SMOLDPO_DEVICE_CPU, 4, PC, PR, ref_free ? NULL : RC, ref_free ? NULL : RR, LC, LR,
                        type, ref_free ? SMOLDPO_DPO_REFERENCE_FREE : 0, beta, eps, &r);
                CHECK(r.rc == 0, "type %d: rc %d %s", type, r.rc, r.err.message);
                double mean = 0, acc = 0;
                for (int i = 0; i < 4; i++) {
                    double e = expected_loss(type, beta, eps, i, ref_free);
                    CHECK(fabs(r.loss[i] - e) <= 1e-12 * fmax(1, fabs(e)), "type %d pair %d: %.17g vs %.17g",
                          type, i, r.loss[i], e);
                    mean += e / 4;
                    /* rewards from the summed log-probs for every type, ipo too (TRL main) */
                    double ewc = beta * (PC[i] - (ref_free ? 0 : RC[i]));
                    double ewr = beta * (PR[i] - (ref_free ? 0 : RR[i]));
                    CHECK(fabs(r.rwc[i] - ewc) < 1e-12 && fabs(r.rwr[i] - ewr) < 1e-12, "rewards type %d pair %d", type, i);
                    CHECK(fabs(r.m[i] - (ewc - ewr)) < 1e-12, "margin type %d pair %d", type, i);
                    acc += ewc > ewr ? 0.25 : 0;
                }
                CHECK(fabs(r.s.loss - mean) <= 1e-12 * fmax(1, fabs(mean)), "type %d mean", type);
                CHECK(r.s.rewards_accuracy == acc, "type %d accuracy %g vs %g", type, r.s.rewards_accuracy, acc);
            }
        }
    }
    /* sigmoid gradient closed form: d mean / d pc = -beta sigma(-beta D) / B */
    dpo_run r;
    run_dpo(SMOLDPO_DEVICE_CPU, 4, PC, PR, RC, RR, NULL, NULL, SMOLDPO_LOSS_SIGMOID, 0, 0.1, 0.0, &r);
    for (int i = 0; i < 4; i++) {
        double d = (PC[i] - RC[i]) - (PR[i] - RR[i]);
        double g = -0.1 * sigm(-0.1 * d) / 4;
        CHECK(fabs(r.gc[i] - g) < 1e-15 && fabs(r.gr[i] + g) < 1e-15, "sigmoid grad pair %d", i);
    }
    /* stability at |beta D| = 1000 */
    for (int type = 0; type <= SMOLDPO_LOSS_APO_DOWN; type++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            double pc[1] = {sign * 5000.0}, pr[1] = {-sign * 5000.0}, z0[1] = {0}, l[1];
            int32_t len[1] = {1};
            dpo_run q;
            run_dpo(SMOLDPO_DEVICE_CPU, 1, pc, pr, z0, z0, len, len, type, 0, 0.1, type <= 1 ? 0.1 : 0, &q);
            (void)l;
            CHECK(q.rc == 0, "big type %d", type);
            CHECK(isfinite(q.loss[0]) && isfinite(q.gc[0]) && isfinite(q.gr[0]) && isfinite(q.s.loss),
                  "type %d sign %d: loss %g grad %g %g", type, sign, q.loss[0], q.gc[0], q.gr[0]);
        }
    }
}

static void test_grad(void) {
    for (int type = 0; type <= SMOLDPO_LOSS_APO_DOWN; type++) {
        if (type == SMOLDPO_LOSS_HINGE) continue; /* checked away from the kink below */
        dpo_run r;
        run_dpo(SMOLDPO_DEVICE_CPU, 4, PC, PR, RC, RR, LC, LR, type, 0, 0.3, type <= 1 ? 0.2 : 0, &r);
        for (int i = 0; i < 4; i++) {
            for (int which = 0; which < 2; which++) {
                double h = 1e-5, pc[4], pr[4];
                memcpy(pc, PC, sizeof pc);
                memcpy(pr, PR, sizeof pr);
                double *v = which ? pr : pc;
                dpo_run a, b;
                v[i] += h;
                run_dpo(SMOLDPO_DEVICE_CPU, 4, pc, pr, RC, RR, LC, LR, type, 0, 0.3, type <= 1 ? 0.2 : 0, &a);
                v[i] -= 2 * h;
                run_dpo(SMOLDPO_DEVICE_CPU, 4, pc, pr, RC, RR, LC, LR, type, 0, 0.3, type <= 1 ? 0.2 : 0, &b);
                double fd = (a.s.loss - b.s.loss) / (2 * h);
                double an = which ? r.gr[i] : r.gc[i];
                CHECK(fabs(fd - an) <= 1e-6 * fmax(1, fabs(an)) + 1e-9, "type %d pair %d %s: fd %.10g analytic %.10g",
                      type, i, which ? "rejected" : "chosen", fd, an);
            }
        }
    }
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_errors(void) {
    uint8_t px[12 * 4] = {0};
    smoldpo_image img = {px, sizeof px, 4, 3, 3, SMOLDPO_LAYOUT_RGB, 0};
    smoldpo_preprocess_config cfg;
    smoldpo_preprocess_config_init(&cfg);
    smoldpo_error err;
    float out[16];
    int rc;

    rc = smoldpo_preprocess(0, NULL, 1, &cfg, NULL, out, 16, NULL, 0, &err);
    CHECK(rc == SMOLDPO_ERR_NULL_ARGUMENT && strstr(err.message, "images"), "null images: %d %s", rc, err.message);
    smoldpo_image bad = img;
    bad.data = NULL;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_NULL_ARGUMENT && strstr(err.message, "image 0"), "null data: %d %s", rc, err.message);
    bad = img;
    bad.data_len = 10;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_BUFFER_TOO_SMALL, "short buffer: %d %s", rc, err.message);
    bad = img;
    bad.width = 0;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE, "zero width: %d", rc);
    bad = img;
    bad.height = -3;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE, "negative height: %d", rc);
    bad = img;
    bad.width = 10000;
    bad.height = 10000; /* 100 MP */
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE && strstr(err.message, "64 MP"), "100 MP: %d %s", rc, err.message);
    bad = img;
    bad.channels = 2;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_UNSUPPORTED_CHANNELS && strstr(err.message, "2 channels"), "2 channels: %d %s", rc, err.message);
    bad.channels = 5;
    rc = smoldpo_preprocess_plan(&bad, 1, &cfg, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_UNSUPPORTED_CHANNELS, "2 channels: %d", rc);
    smoldpo_preprocess_config big = cfg;
    big.longest_edge = 5000;
    rc = smoldpo_preprocess_plan(&img, 1, &big, NULL, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE && strstr(err.message, "4096"), "edge 5000: %d %s", rc, err.message);
    rc = smoldpo_preprocess(0, &img, 1, &cfg, NULL, out, 16, NULL, 0, &err);
    CHECK(rc == SMOLDPO_ERR_BUFFER_TOO_SMALL && strstr(err.message, "pixel_values"), "short output: %d %s", rc, err.message);
    rc = smoldpo_preprocess(7, &img, 1, &cfg, NULL, out, 16, NULL, 0, &err);
    CHECK(rc == SMOLDPO_ERR_UNSUPPORTED_DEVICE, "device 7: %d", rc);
    rc = smoldpo_resize_u8(0, &img, 5000, 10, (uint8_t *)out, 64, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE, "resize huge: %d", rc);
    rc = smoldpo_resize_u8(0, &img, 0, 10, (uint8_t *)out, 64, &err);
    CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE, "resize zero: %d", rc);
    CHECK(strcmp(smoldpo_last_error_message(), err.message) == 0, "last error message mirrors err");
    /* dpo */
    double v[2] = {-1, -2};
    smoldpo_dpo_params p = {SMOLDPO_LOSS_SIGMOID, 0, 0.1, 0};
    smoldpo_dpo_outputs o = {0};
    rc = smoldpo_dpo_loss(0, 2, NULL, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_NULL_ARGUMENT && strstr(err.message, "policy_chosen"), "dpo null: %d %s", rc, err.message);
    rc = smoldpo_dpo_loss(0, 0, v, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_INVALID_ARGUMENT, "dpo batch 0: %d", rc);
    p.beta = 0;
    rc = smoldpo_dpo_loss(0, 2, v, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_INVALID_ARGUMENT && strstr(err.message, "beta"), "dpo beta: %d", rc);
    p.beta = 0.1;
    p.loss_type = 42;
    rc = smoldpo_dpo_loss(0, 2, v, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_UNSUPPORTED_LOSS, "dpo type: %d", rc);
    p.loss_type = SMOLDPO_LOSS_IPO;
    rc = smoldpo_dpo_loss(0, 2, v, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_NULL_ARGUMENT && strstr(err.message, "length"), "ipo lengths: %d", rc);
    double nanv[2] = {NAN, 0};
    p.loss_type = 0;
    rc = smoldpo_dpo_loss(0, 2, nanv, v, v, v, NULL, NULL, &p, &o, NULL, &err);
    CHECK(rc == SMOLDPO_ERR_INVALID_ARGUMENT && strstr(err.message, "not finite"), "nan: %d", rc);
    /* CUDA without GPU: graceful error */
    if (smoldpo_cuda_device_count() == 0) {
        rc = smoldpo_dpo_loss(SMOLDPO_DEVICE_CUDA, 2, v, v, v, v, NULL, NULL, &p, &o, NULL, &err);
        CHECK(rc == SMOLDPO_ERR_CUDA_UNAVAILABLE, "cuda unavailable: %d %s", rc, err.message);
        uint8_t o8[300];
        rc = smoldpo_resize_u8(SMOLDPO_DEVICE_CUDA, &img, 10, 10, o8, sizeof o8, &err);
        CHECK(rc == SMOLDPO_ERR_CUDA_UNAVAILABLE, "cuda resize unavailable: %d %s", rc, err.message);
        printf("CUDA unavailable message: %s\n", err.message);
    }
}

/* ---- goldens ------------------------------------------------------------------------------ */

static uint8_t *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    if (fread(b, 1, *len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static int32_t rd32(const uint8_t *p) { return (int32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24); }

static int resize_golden(const char *dir, int device) {
    int n = 0;
    for (int i = 0;; i++) {
        char path[1024];
        long len;
        snprintf(path, sizeof path, "%s/resize_%02d.bin", dir, i);
        uint8_t *b = read_file(path, &len);
        if (!b) break;
        int sw = rd32(b + 4), sh = rd32(b + 8), c = rd32(b + 12), dw = rd32(b + 16), dh = rd32(b + 20);
        const uint8_t *src = b + 24, *want = src + (size_t)sw * sh * c;
        smoldpo_image img = {src, (int64_t)sw * sh * c, sw, sh, c, SMOLDPO_LAYOUT_RGB, 0};
        uint8_t *got = malloc((size_t)dw * dh * 3);
        smoldpo_error err;
        int rc = smoldpo_resize_u8(device, &img, dw, dh, got, (int64_t)dw * dh * 3, &err);
        CHECK(rc == 0, "resize %d: %s", i, err.message);
        int maxd = 0, diff = 0;
        for (long k = 0; k < (long)dw * dh * 3; k++) {
            int d = abs(got[k] - want[k]);
            if (d > maxd) maxd = d;
            if (d) diff++;
        }
        printf("resize_%02d %dx%dx%d -> %dx%d: max |diff| %d, %d of %d values differ\n", i, sw, sh, c, dw,
               dh, maxd, diff, dw * dh * 3);
        CHECK(maxd == 0, "resize %d: max diff %d (PIL's bytes expected exactly)", i, maxd);
        free(got);
        free(b);
        n++;
    }
    return n;
}

static int processor_golden(const char *dir, int device) {
    int n = 0;
    for (int i = 0;; i++) {
        char path[1024];
        long len;
        snprintf(path, sizeof path, "%s/processor_%02d.bin", dir, i);
        uint8_t *b = read_file(path, &len);
        if (!b) break;
        int32_t h[15];
        for (int k = 0; k < 15; k++) h[k] = rd32(b + 4 + 4 * k);
        int sw = h[0], sh = h[1], c = h[2];
        const uint8_t *src = b + 64;
        const uint8_t *want = src + (size_t)sw * sh * c;
        smoldpo_image img = {src, (int64_t)sw * sh * c, sw, sh, c, SMOLDPO_LAYOUT_RGB, 0};
        smoldpo_preprocess_config cfg;
        smoldpo_preprocess_config_init(&cfg);
        cfg.longest_edge = h[3];
        cfg.tile_size = h[4];
        cfg.do_image_splitting = h[5];
        smoldpo_image_plan plan;
        smoldpo_batch_plan bp;
        smoldpo_error err;
        int rc = smoldpo_preprocess_plan(&img, 1, &cfg, &plan, &bp, &err);
        CHECK(rc == 0, "plan %d: %s", i, err.message);
        CHECK(plan.rows == h[6] && plan.cols == h[7] && plan.tile_count == h[8], "grid %d: %dx%d (%d) vs %dx%d (%d)",
              i, plan.rows, plan.cols, plan.tile_count, h[6], h[7], h[8]);
        CHECK(plan.resized_width == h[9] && plan.resized_height == h[10] && plan.split_width == h[11] &&
                  plan.split_height == h[12], "sizes %d", i);
        CHECK(bp.canvas_height == h[13] && bp.canvas_width == h[14], "canvas %d", i);
        int64_t total = (int64_t)h[8] * 3 * h[13] * h[14];
        if (bp.pixel_values_len == total) {
            uint8_t *u8 = malloc(total);
            float *f = malloc(sizeof(float) * total);
            uint8_t *mask = malloc(total / 3);
            rc = smoldpo_preprocess_u8(device, &img, 1, &cfg, NULL, u8, total, &err);
            CHECK(rc == 0, "preprocess_u8 %d: %s", i, err.message);
            rc = smoldpo_preprocess(device, &img, 1, &cfg, NULL, f, total, mask, total / 3, &err);
            CHECK(rc == 0, "preprocess %d: %s", i, err.message);
            int maxd = 0;
            double maxf = 0;
            int64_t float_mismatches = 0;
            const int64_t plane = (int64_t)h[13] * h[14];
            for (int64_t k = 0; k < total; k++) {
                int d = abs(u8[k] - want[k]);
                if (d > maxd) maxd = d;
                /* transformers' arithmetic on PIL's byte: rescale in float64, cast, normalise in float32 */
                const int ch = (int)((k / plane) % 3);
                float e = (float)((double)want[k] * cfg.rescale_factor);
                e = (e - cfg.image_mean[ch]) / cfg.image_std[ch];
                if (f[k] != e) float_mismatches++;
                if (fabs((double)f[k] - e) > maxf) maxf = fabs((double)f[k] - e);
            }
            int mask_ok = 1;
            for (int64_t k = 0; k < total / 3; k++) mask_ok &= mask[k] == 1;
            printf("processor_%02d %dx%d -> %dx%d tiles %d: max |diff| %d levels, %.3g normalised, %lld floats differ\n",
                   i, sw, sh, plan.rows, plan.cols, plan.tile_count, maxd, maxf, (long long)float_mismatches);
            CHECK(maxd == 0 && float_mismatches == 0, "processor %d: max diff %d levels, %lld floats differ (max %g)", i, maxd,
                  (long long)float_mismatches, maxf);
            CHECK(mask_ok, "mask %d", i);
            free(u8);
            free(f);
            free(mask);
        }
        free(b);
        n++;
    }
    /* grids at the defaults */
    char path[1024];
    snprintf(path, sizeof path, "%s/grids.txt", dir);
    FILE *g = fopen(path, "r");
    CHECK(g != NULL, "grids.txt missing");
    if (g) {
        char line[256];
        while (fgets(line, sizeof line, g)) {
            int w, hh, L, T, rw, rh, sw2, sh2, rows, cols;
            if (line[0] == '#' || sscanf(line, "%d %d %d %d %d %d %d %d %d %d", &w, &hh, &L, &T, &rw, &rh, &sw2, &sh2, &rows, &cols) != 10) continue;
            uint8_t px[3] = {0};
            smoldpo_image img = {px, (int64_t)w * hh * 3, w, hh, 3, SMOLDPO_LAYOUT_RGB, 0};
            smoldpo_preprocess_config cfg;
            smoldpo_preprocess_config_init(&cfg);
            smoldpo_image_plan plan;
            smoldpo_error err;
            int rc = smoldpo_preprocess_plan(&img, 1, &cfg, &plan, NULL, &err);
            CHECK(rc == 0 && plan.resized_width == rw && plan.resized_height == rh && plan.split_width == sw2 &&
                      plan.split_height == sh2 && plan.rows == rows && plan.cols == cols,
                  "grid %dx%d: got %dx%d %dx%d %dx%d", w, hh, plan.resized_width, plan.resized_height,
                  plan.split_width, plan.split_height, plan.rows, plan.cols);
            n++;
        }
        fclose(g);
    }
    return n;
}

/* transformers/cases.txt (make_transformers_goldens.py): transformers' own processor output as
 * float32, compared bit for bit. Sources: raw RGB files, or for encoded files the pixels
 * load_image gave (decoded.txt); cases stored only as a hash are left to the Java tests. */
static int rgb_of_encoded(const char *dir, const char *file, char *rgb, size_t cap) {
    char path[1024], line[512], name[256], out[256];
    snprintf(path, sizeof path, "%s/transformers/decoded.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int found = 0, w, h, o;
    while (!found && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%255s %d %d %d %255s", name, &w, &h, &o, out) == 5 && !strcmp(name, file)) {
            snprintf(rgb, cap, "%s", out);
            found = 1;
        }
    fclose(f);
    return found;
}

static int transformers_golden(const char *dir, int device) {
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/transformers/cases.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s missing", path);
    if (!f) return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], source[256], sha[80], values[256], rgb[256];
        int w, h, do_resize, longest, splitting, tile, rows, cols, tiles;
        if (line[0] == '#' || sscanf(line, "%255s %255s %d %d %d %d %d %d %d %d %d %79s %255s", name, source, &w, &h,
                                     &do_resize, &longest, &splitting, &tile, &rows, &cols, &tiles, sha, values) != 13)
            continue;
        if (!strcmp(values, "-")) continue;
        if (strstr(source, ".rgb")) snprintf(rgb, sizeof rgb, "%s", source);
        else CHECK(rgb_of_encoded(dir, source, rgb, sizeof rgb), "%s: %s not in decoded.txt", name, source);
        long src_len, want_len;
        snprintf(path, sizeof path, "%s/transformers/%s", dir, rgb);
        uint8_t *src = read_file(path, &src_len);
        snprintf(path, sizeof path, "%s/transformers/%s", dir, values);
        uint8_t *want = read_file(path, &want_len);
        CHECK(src && src_len == (long)w * h * 3, "%s: source %s", name, rgb);
        const int64_t total = (int64_t)tiles * 3 * tile * tile;
        CHECK(want && want_len == total * 4, "%s: values %s", name, values);
        if (src && want && src_len == (long)w * h * 3 && want_len == total * 4) {
            smoldpo_image img = {src, src_len, w, h, 3, SMOLDPO_LAYOUT_RGB, 0};
            smoldpo_preprocess_config cfg;
            smoldpo_preprocess_config_init(&cfg);
            cfg.do_resize = do_resize;
            cfg.longest_edge = longest;
            cfg.do_image_splitting = splitting;
            cfg.tile_size = tile;
            smoldpo_image_plan plan;
            smoldpo_error err;
            float *got = malloc(sizeof(float) * total);
            uint8_t *mask = malloc(total / 3);
            int rc = smoldpo_preprocess(device, &img, 1, &cfg, &plan, got, total, mask, total / 3, &err);
            CHECK(rc == 0, "%s: %s", name, err.message);
            if (rc == 0) {
                CHECK(plan.rows == rows && plan.cols == cols && plan.tile_count == tiles, "%s: grid %dx%d (%d) vs %dx%d (%d)",
                      name, plan.rows, plan.cols, plan.tile_count, rows, cols, tiles);
                int64_t differ = 0;
                for (int64_t k = 0; k < total; k++) differ += memcmp(got + k, want + 4 * k, 4) != 0; /* LE host */
                int mask_ok = 1;
                for (int64_t k = 0; k < total / 3; k++) mask_ok &= mask[k] == 1;
                printf("transformers %-22s %dx%d -> %dx%d tiles %d: %lld of %lld float32 values differ\n", name, w, h,
                       plan.rows, plan.cols, plan.tile_count, (long long)differ, (long long)total);
                CHECK(differ == 0, "%s: %lld values differ from transformers", name, (long long)differ);
                CHECK(mask_ok, "%s: mask", name);
            }
            free(got);
            free(mask);
        }
        free(src);
        free(want);
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s dpo|grad|errors|resize|processor|transformers|pool|tall|cuda <goldens-dir>\n", argv[0]);
        return 2;
    }
    const char *what = argv[1], *dir = argv[2];
    printf("libsmoldpo api %d, cuda compiled %d, cuda devices %d\n", smoldpo_api_version(),
           smoldpo_cuda_compiled(), smoldpo_cuda_device_count());
    if (!strcmp(what, "dpo")) test_dpo();
    else if (!strcmp(what, "grad")) test_grad();
    else if (!strcmp(what, "errors")) test_errors();
    else if (!strcmp(what, "resize")) CHECK(resize_golden(dir, SMOLDPO_DEVICE_CPU) >= 6, "fewer than 6 resize goldens in %s", dir);
    else if (!strcmp(what, "processor")) CHECK(processor_golden(dir, SMOLDPO_DEVICE_CPU) >= 6, "processor goldens missing in %s", dir);
    else if (!strcmp(what, "transformers")) CHECK(transformers_golden(dir, SMOLDPO_DEVICE_CPU) >= 6, "transformers goldens missing in %s", dir);
    else if (!strcmp(what, "pool")) test_pool();
    else if (!strcmp(what, "tall")) test_tall(SMOLDPO_DEVICE_CPU, NULL, NULL);
    else if (!strcmp(what, "cuda")) {
        const char *require = getenv("SMOLDPO_REQUIRE_CUDA");
        if (smoldpo_cuda_device_count() == 0) {
            /* CI has no GPU; the GPU check sets SMOLDPO_REQUIRE_CUDA=1 so that this cannot pass there */
            CHECK(!(require && !strcmp(require, "1")),
                  "SMOLDPO_REQUIRE_CUDA=1 but no CUDA device is usable (library compiled with CUDA: %d)",
                  smoldpo_cuda_compiled());
            printf("no CUDA device: CUDA parity not run (SMOLDPO_REQUIRE_CUDA=1 makes this a failure)\n");
        } else {
            uint8_t *cpu = NULL, *gpu = NULL;
            int64_t cpu_len = 0, gpu_len = 0;
            test_tall(SMOLDPO_DEVICE_CPU, &cpu, &cpu_len);
            test_tall(SMOLDPO_DEVICE_CUDA, &gpu, &gpu_len);
            CHECK(cpu && gpu && cpu_len == gpu_len && !memcmp(cpu, gpu, (size_t)cpu_len), "tall source: CUDA differs from CPU");
            free(cpu);
            free(gpu);
            test_cuda_cache();
            resize_golden(dir, SMOLDPO_DEVICE_CUDA);
            processor_golden(dir, SMOLDPO_DEVICE_CUDA);
            transformers_golden(dir, SMOLDPO_DEVICE_CUDA);
            for (int type = 0; type <= SMOLDPO_LOSS_APO_DOWN; type++) {
                dpo_run a, b;
                run_dpo(SMOLDPO_DEVICE_CPU, 4, PC, PR, RC, RR, LC, LR, type, 0, 0.1, 0.05, &a);
                run_dpo(SMOLDPO_DEVICE_CUDA, 4, PC, PR, RC, RR, LC, LR, type, 0, 0.1, 0.05, &b);
                CHECK(b.rc == 0, "cuda dpo %d: %s", type, b.err.message);
                CHECK(fabs(a.s.loss - b.s.loss) <= 1e-6 * fmax(1e-30, fabs(a.s.loss)), "cuda dpo %d loss", type);
                for (int i = 0; i < 4; i++)
                    CHECK(fabs(a.gc[i] - b.gc[i]) <= 1e-6 * fmax(1e-12, fabs(a.gc[i])), "cuda grad %d", type);
            }
        }
    } else {
        fprintf(stderr, "unknown group %s\n", what);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("%s: ok\n", what);
    return 0;
}
