/* Built instead of the CUDA sources when nvcc is absent or SMOLDPO_CUDA=OFF. */
#include "internal.h"

#include <string.h>

int32_t smoldpo_cuda_compiled(void) { return 0; }

int32_t sd_cuda_device_count(void) { return 0; }

/* no CUDA, no contexts: all figures 0, nothing to free */
void sd_cuda_cache_stats(smoldpo_cuda_cache_stats *out) { memset(out, 0, sizeof *out); }

int32_t sd_cuda_release_cache(smoldpo_error *err) {
    (void)err;
    return SMOLDPO_OK;
}

static int32_t unavailable(smoldpo_error *err) {
    return sd_fail(err, SMOLDPO_ERR_CUDA_UNAVAILABLE,
                   "CUDA device requested, but this build of libsmoldpo has no CUDA support "
                   "(built without nvcc or with SMOLDPO_CUDA=OFF); use the CPU device");
}

int32_t sd_cuda_preprocess(const smoldpo_image *images, int32_t count,
                           const smoldpo_preprocess_config *cfg, const smoldpo_image_plan *plans,
                           const smoldpo_batch_plan *batch, float *pixel_values, uint8_t *pixels_u8,
                           smoldpo_error *err) {
    (void)images; (void)count; (void)cfg; (void)plans; (void)batch; (void)pixel_values; (void)pixels_u8;
    return unavailable(err);
}

int32_t sd_cuda_resize(const smoldpo_image *src, int32_t out_width, int32_t out_height,
                       uint8_t *out_rgb, smoldpo_error *err) {
    (void)src; (void)out_width; (void)out_height; (void)out_rgb;
    return unavailable(err);
}

int32_t sd_cuda_dpo(int64_t batch, const double *pc, const double *pr, const double *rc,
                    const double *rr, const int32_t *lc, const int32_t *lr,
                    const smoldpo_dpo_params *params, const smoldpo_dpo_outputs *out,
                    smoldpo_dpo_summary *summary, smoldpo_error *err) {
    (void)batch; (void)pc; (void)pr; (void)rc; (void)rr; (void)lc; (void)lr; (void)params; (void)out; (void)summary;
    return unavailable(err);
}
