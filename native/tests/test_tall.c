/* Sources taller than CUDA's gridDim.y limit of 65,535 (a kernel launched with one block row per
 * image row fails on them), and the CUDA context pool seen through the public API. */
#define _POSIX_C_SOURCE 200809L /* rand_r, sched_yield */
#include "check.h"
#include "smoldpo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TALL_W 2
#define TALL_H 70000
/* three bands; the last lies wholly below row 65,535 */
static const uint8_t BAND_A[3] = {10, 200, 30}, BAND_B[3] = {128, 128, 128}, BAND_C[3] = {250, 5, 120};
#define B_FROM 20000
#define C_FROM 66000

static uint8_t *tall_image(void) {
    uint8_t *px = malloc((size_t)TALL_W * TALL_H * 3);
    for (int y = 0; y < TALL_H; y++) {
        const uint8_t *c = y < B_FROM ? BAND_A : y < C_FROM ? BAND_B : BAND_C;
        for (int x = 0; x < TALL_W; x++) memcpy(px + ((size_t)y * TALL_W + x) * 3, c, 3);
    }
    return px;
}

/* Whether rows [r0, r1) of tile `tile` (CHW bytes, t x t) are all the colour c. A region of one
 * colour stays that colour exactly through every resize (the fixed-point weights sum to 2^22 within
 * far less than one level), so the bands are checked for equality, not closeness. */
static int rows_are(const uint8_t *tiles, int tile, int t, int r0, int r1, const uint8_t c[3]) {
    const size_t plane = (size_t)t * t;
    const uint8_t *base = tiles + (size_t)tile * 3 * plane;
    for (int ch = 0; ch < 3; ch++)
        for (int y = r0; y < r1; y++)
            for (int x = 0; x < t; x++)
                if (base[ch * plane + (size_t)y * t + x] != c[ch]) return 0;
    return 1;
}

void test_tall(int device, uint8_t **pixels_out, int64_t *len_out) {
    uint8_t *px = tall_image();
    smoldpo_image img = {px, (int64_t)TALL_W * TALL_H * 3, TALL_W, TALL_H, 3, SMOLDPO_LAYOUT_RGB, 0};
    smoldpo_preprocess_config cfg;
    smoldpo_preprocess_config_init(&cfg); /* SmolVLM: longest edge 2048, 512 tiles */
    smoldpo_image_plan plan;
    smoldpo_batch_plan bp;
    smoldpo_error err;
    int rc = smoldpo_preprocess_plan(&img, 1, &cfg, &plan, &bp, &err);
    CHECK(rc == 0, "plan of %dx%d: %s", TALL_W, TALL_H, err.message);
    /* 2 x 70000 -> 1 x 2048 (the short side rounds to 0, then 1) -> 512 x 2048: 4 x 1 tiles + global */
    CHECK(plan.resized_width == 1 && plan.resized_height == 2048 && plan.split_width == 512 &&
              plan.split_height == 2048 && plan.rows == 4 && plan.cols == 1 && plan.tile_count == 5,
          "plan %dx%d -> %dx%d, grid %dx%d", plan.resized_width, plan.resized_height, plan.split_width,
          plan.split_height, plan.rows, plan.cols);
    const int64_t total = bp.pixel_values_len;
    uint8_t *u8 = malloc((size_t)total);
    float *f = malloc(sizeof(float) * (size_t)total);
    rc = smoldpo_preprocess_u8(device, &img, 1, &cfg, NULL, u8, total, &err);
    CHECK(rc == 0, "device %d: preprocess_u8 of %dx%d: %s", device, TALL_W, TALL_H, err.message);
    if (rc == 0) {
        const int t = 512;
        /* output row yy of the 2048 reads source rows around 34.18 (yy + 0.5), +-103 */
        CHECK(rows_are(u8, 0, t, 0, t, BAND_A), "tile 0 (source rows 0..17,600) is band A");
        CHECK(rows_are(u8, 2, t, 0, t, BAND_B), "tile 2 (source rows 35,000..52,600) is band B");
        CHECK(rows_are(u8, 3, t, 400, t, BAND_C), "tile 3, rows 400+ (source rows 66,200+) are band C");
        CHECK(rows_are(u8, 4, t, 0, 128, BAND_A) && rows_are(u8, 4, t, 488, t, BAND_C), "global image: A on top, C below");
        rc = smoldpo_preprocess(device, &img, 1, &cfg, NULL, f, total, NULL, 0, &err);
        CHECK(rc == 0, "device %d: preprocess of %dx%d: %s", device, TALL_W, TALL_H, err.message);
        int64_t differ = 0;
        const int64_t plane = (int64_t)t * t;
        for (int64_t k = 0; k < total && rc == 0; k++) {
            const int ch = (int)((k / plane) % 3);
            differ += f[k] != ((float)((double)u8[k] * cfg.rescale_factor) - cfg.image_mean[ch]) / cfg.image_std[ch];
        }
        CHECK(differ == 0, "%lld floats differ from the bytes' rescale and normalise", (long long)differ);
        printf("tall source %dx%d on device %d: grid %dx%d + global, bands A/B/C where expected\n", TALL_W, TALL_H,
               device, plan.rows, plan.cols);
    }
    free(f);
    free(px);
    if (pixels_out && rc == 0) {
        *pixels_out = u8;
        *len_out = total;
    } else {
        free(u8);
    }
    /* a side of exactly the limit works, one more is refused */
    const int32_t edge = SMOLDPO_MAX_SOURCE_EDGE;
    uint8_t *gray = malloc((size_t)edge);
    memset(gray, 77, (size_t)edge);
    smoldpo_image g = {gray, edge, 1, edge, 1, SMOLDPO_LAYOUT_RGB, 0};
    smoldpo_preprocess_config small;
    smoldpo_preprocess_config_init(&small);
    small.longest_edge = 512;
    small.tile_size = 512;
    uint8_t *one = malloc((size_t)4 * 3 * 512 * 512);
    rc = smoldpo_preprocess_u8(device, &g, 1, &small, &plan, one, (int64_t)4 * 3 * 512 * 512, &err);
    CHECK(rc == 0 && plan.tile_count == 1, "device %d: 1 x %d gray: %s", device, edge, err.message);
    if (rc == 0) {
        const uint8_t grey[3] = {77, 77, 77};
        CHECK(rows_are(one, 0, 512, 0, 512, grey), "1 x %d gray stays 77", edge);
    }
    g.height = edge + 1;
    g.data_len = edge + 1;
    uint8_t *gray2 = realloc(gray, (size_t)edge + 1);
    if (gray2) {
        g.data = gray2;
        gray = gray2;
        rc = smoldpo_preprocess_plan(&g, 1, &small, NULL, NULL, &err);
        CHECK(rc == SMOLDPO_ERR_SIZE_OUT_OF_RANGE && strstr(err.message, "1048576"), "1 x %d: %d %s", edge + 1, rc,
              err.message);
    }
    free(gray);
    free(one);
}

/* ---- CUDA only ---------------------------------------------------------------------------- */

static void stats(smoldpo_cuda_cache_stats *s) {
    memset(s, 0xff, sizeof *s);
    smoldpo_cuda_cache_stats_get(s);
}

/* Random photo-like bytes of w x h, seeded. */
static uint8_t *noise(int w, int h, unsigned seed) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) p[i] = (uint8_t)(rand_r(&seed) >> 7);
    return p;
}

typedef struct {
    int w, h;
    uint8_t *src, *want;
    int64_t len;
    int bad;
} job;

static void *cuda_worker(void *arg) {
    job *j = arg;
    smoldpo_image img = {j->src, (int64_t)j->w * j->h * 3, j->w, j->h, 3, SMOLDPO_LAYOUT_RGB, 0};
    smoldpo_preprocess_config cfg;
    smoldpo_preprocess_config_init(&cfg);
    uint8_t *got = malloc((size_t)j->len);
    for (int it = 0; it < 8; it++) {
        smoldpo_error err;
        int rc = smoldpo_preprocess_u8(SMOLDPO_DEVICE_CUDA, &img, 1, &cfg, NULL, got, j->len, &err);
        j->bad += rc != 0 || memcmp(got, j->want, (size_t)j->len) != 0;
    }
    free(got);
    return NULL;
}

void test_cuda_cache(void) {
    smoldpo_error err;
    smoldpo_cuda_cache_stats s0, s1, s2;
    CHECK(smoldpo_cuda_release_cache(&err) == 0, "release: %s", err.message);
    stats(&s0);
    CHECK(s0.contexts == 0 && s0.device_bytes == 0 && s0.pinned_host_bytes == 0, "empty after release");
    /* the same call twice: the second allocates nothing */
    uint8_t *src = noise(640, 480, 5);
    smoldpo_image img = {src, 640 * 480 * 3, 640, 480, 3, SMOLDPO_LAYOUT_RGB, 0};
    uint8_t *out = malloc(300 * 200 * 3);
    CHECK(smoldpo_resize_u8(SMOLDPO_DEVICE_CUDA, &img, 300, 200, out, 300 * 200 * 3, &err) == 0, "%s", err.message);
    stats(&s1);
    CHECK(s1.contexts == 1 && s1.idle_contexts == 1 && s1.allocations > s0.allocations && s1.device_bytes > 0,
          "after one call: %d contexts, %lld allocations", s1.contexts, (long long)s1.allocations);
    CHECK(smoldpo_resize_u8(SMOLDPO_DEVICE_CUDA, &img, 300, 200, out, 300 * 200 * 3, &err) == 0, "%s", err.message);
    double pc[4] = {-1, -2, -3, -4}, pr[4] = {-2, -2, -5, -1};
    smoldpo_dpo_params p = {SMOLDPO_LOSS_SIGMOID, SMOLDPO_DPO_REFERENCE_FREE, 0.1, 0};
    double losses[4];
    smoldpo_dpo_outputs o = {losses, NULL, NULL, NULL, NULL, NULL};
    CHECK(smoldpo_dpo_loss(SMOLDPO_DEVICE_CUDA, 4, pc, pr, NULL, NULL, NULL, NULL, &p, &o, NULL, &err) == 0, "%s", err.message);
    stats(&s1);
    CHECK(smoldpo_resize_u8(SMOLDPO_DEVICE_CUDA, &img, 300, 200, out, 300 * 200 * 3, &err) == 0, "%s", err.message);
    CHECK(smoldpo_dpo_loss(SMOLDPO_DEVICE_CUDA, 4, pc, pr, NULL, NULL, NULL, NULL, &p, &o, NULL, &err) == 0, "%s", err.message);
    stats(&s2);
    CHECK(s2.allocations == s1.allocations && s2.device_bytes == s1.device_bytes && s2.contexts == 1,
          "repeated calls allocated: %lld -> %lld allocations, %d contexts", (long long)s1.allocations,
          (long long)s2.allocations, s2.contexts);
    CHECK(s2.pinned_host_bytes > 0, "the DPO loss stages through pinned memory");
    printf("cuda cache: %d context, %lld device bytes, %lld pinned bytes, %lld allocations\n", s2.contexts,
           (long long)s2.device_bytes, (long long)s2.pinned_host_bytes, (long long)s2.allocations);
    CHECK(smoldpo_cuda_release_cache(&err) == 0, "release: %s", err.message);
    stats(&s2);
    CHECK(s2.contexts == 0 && s2.device_bytes == 0 && s2.pinned_host_bytes == 0, "release freed everything");
    free(src);
    free(out);
    /* 4 threads x 8 calls at once, each image its own size: every result equals the CPU's */
    enum { N = 4 };
    job jobs[N];
    pthread_t t[N];
    smoldpo_preprocess_config cfg;
    smoldpo_preprocess_config_init(&cfg);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){800 + 97 * i, 600 - 31 * i, NULL, NULL, 0, 0};
        jobs[i].src = noise(jobs[i].w, jobs[i].h, 40u + (unsigned)i);
        smoldpo_image img2 = {jobs[i].src, (int64_t)jobs[i].w * jobs[i].h * 3, jobs[i].w, jobs[i].h, 3, SMOLDPO_LAYOUT_RGB, 0};
        smoldpo_batch_plan bp;
        smoldpo_preprocess_plan(&img2, 1, &cfg, NULL, &bp, &err);
        jobs[i].len = bp.pixel_values_len;
        jobs[i].want = malloc((size_t)bp.pixel_values_len);
        CHECK(smoldpo_preprocess_u8(SMOLDPO_DEVICE_CPU, &img2, 1, &cfg, NULL, jobs[i].want, jobs[i].len, &err) == 0, "cpu");
    }
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, cuda_worker, &jobs[i]);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        bad += jobs[i].bad;
        free(jobs[i].src);
        free(jobs[i].want);
    }
    stats(&s2);
    printf("cuda cache: %d threads x 8 calls: %d contexts, %d calls differed from the CPU\n", N, s2.contexts, bad);
    CHECK(bad == 0, "%d concurrent CUDA calls failed or differed from the CPU", bad);
    CHECK(s2.contexts >= 1 && s2.contexts <= N && s2.idle_contexts == s2.contexts, "%d contexts for %d threads",
          s2.contexts, N);
}
