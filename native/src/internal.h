/* Internal helpers shared by the CPU and CUDA implementations. Not part of the public ABI. */
#ifndef SMOLDPO_INTERNAL_H
#define SMOLDPO_INTERNAL_H

#include "smoldpo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records a failure in err (when not NULL) and in the thread's last-error slot; returns code. */
int32_t sd_fail(smoldpo_error *err, int32_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Records success (code 0, empty message); returns SMOLDPO_OK. */
int32_t sd_ok(smoldpo_error *err);

/* Source validation: pointer, sizes, limits, channels/layout, buffer length. */
int32_t sd_validate_image(const smoldpo_image *img, int32_t index, smoldpo_error *err);
int32_t sd_validate_config(const smoldpo_preprocess_config *cfg, smoldpo_error *err);
/* Full batch planning (validates everything). plans/batch may be NULL. */
int32_t sd_plan_batch(const smoldpo_image *images, int32_t count,
                      const smoldpo_preprocess_config *cfg, smoldpo_image_plan *plans,
                      smoldpo_batch_plan *batch, smoldpo_error *err);
/* Row stride in bytes of a validated image. */
int64_t sd_row_stride(const smoldpo_image *img);

/* PIL-style separable resampling coefficients for one axis, in 22-bit fixed point. */
#define SD_PRECISION_BITS 22
typedef struct sd_coeffs {
    int32_t in_size;
    int32_t out_size;
    int32_t ksize;   /* taps reserved per output sample */
    int32_t *bounds; /* [out_size * 2]: first input index, number of taps */
    int32_t *k;      /* [out_size * ksize] fixed-point weights */
} sd_coeffs;
/* Returns SMOLDPO_OK or SMOLDPO_ERR_OUT_OF_MEMORY. */
int32_t sd_coeffs_build(sd_coeffs *c, int32_t in_size, int32_t out_size);
void sd_coeffs_free(sd_coeffs *c);

/* Value table for the final stage: lut[ch * 256 + v] = normalise(rescale(v)). */
void sd_build_lut(const smoldpo_preprocess_config *cfg, float lut[3 * 256]);

/* CUDA entry points (implemented in cuda/smoldpo_cuda.cu, or by cuda_stub.c when built without CUDA). */
int32_t sd_cuda_device_count(void);
int32_t sd_cuda_preprocess(const smoldpo_image *images, int32_t count,
                           const smoldpo_preprocess_config *cfg, const smoldpo_image_plan *plans,
                           const smoldpo_batch_plan *batch, float *pixel_values, uint8_t *pixels_u8,
                           smoldpo_error *err);
int32_t sd_cuda_resize(const smoldpo_image *src, int32_t out_width, int32_t out_height,
                       uint8_t *out_rgb, smoldpo_error *err);
void sd_cuda_cache_stats(smoldpo_cuda_cache_stats *out);
int32_t sd_cuda_release_cache(smoldpo_error *err);
int32_t sd_cuda_dpo(int64_t batch, const double *pc, const double *pr, const double *rc,
                    const double *rr, const int32_t *lc, const int32_t *lr,
                    const smoldpo_dpo_params *params, const smoldpo_dpo_outputs *out,
                    smoldpo_dpo_summary *summary, smoldpo_error *err);

#ifdef __cplusplus
}
#endif

#endif
