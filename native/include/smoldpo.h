/*
 * smoldpo native library: SmolVLM (Idefics3) image preprocessing and the fused DPO loss.
 *
 * One C ABI for two implementations, chosen per call by a device argument:
 *   SMOLDPO_DEVICE_CPU   always available (C11, OpenMP when the compiler has it)
 *   SMOLDPO_DEVICE_CUDA  when the library was built with nvcc and a GPU + driver are present
 *
 * Conventions
 *   - Every fallible function returns an int status: SMOLDPO_OK (0) or a SMOLDPO_ERR_* code.
 *   - The last argument `err` may be NULL; when given, it receives the status and a message that
 *     names the problem (which image, which argument, which limit). smoldpo_status_name() gives a
 *     fixed name for a code. The library never aborts and never prints.
 *   - Buffers are passed with their length (in elements of their type) so the library can refuse
 *     short buffers instead of writing past them.
 *   - All pointers are host pointers; the CUDA path copies to and from the device itself.
 *   - Thread safety: every function may be called from any number of threads at once; calls share
 *     no state but the CUDA context pool (see "CUDA resources"), which is locked. Two concurrent
 *     calls must not write to the same output buffer. The CPU path runs OpenMP teams of its own in
 *     each calling thread, so many concurrent CPU calls oversubscribe the cores.
 *
 * This header is the input of tools/regen-bindings.sh (jextract); keep it plain C.
 */
#ifndef SMOLDPO_H
#define SMOLDPO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SMOLDPO_API __declspec(dllexport)
#else
#define SMOLDPO_API __attribute__((visibility("default")))
#endif

#define SMOLDPO_API_VERSION 2 /* 2: CUDA context pool (smoldpo_cuda_cache_stats_get, _release_cache) */

/* ---- status codes ---------------------------------------------------------------------- */
enum smoldpo_status {
    SMOLDPO_OK = 0,
    SMOLDPO_ERR_NULL_ARGUMENT = 1,        /* a required pointer is NULL */
    SMOLDPO_ERR_INVALID_ARGUMENT = 2,     /* a value outside its domain (beta <= 0, count <= 0, ...) */
    SMOLDPO_ERR_BUFFER_TOO_SMALL = 3,     /* an input or output buffer is shorter than needed */
    SMOLDPO_ERR_SIZE_OUT_OF_RANGE = 4,    /* zero, negative or too large image sizes */
    SMOLDPO_ERR_UNSUPPORTED_CHANNELS = 5, /* channel count / pixel layout not supported */
    SMOLDPO_ERR_UNSUPPORTED_LOSS = 6,     /* unknown loss type or flag */
    SMOLDPO_ERR_OUT_OF_MEMORY = 7,
    SMOLDPO_ERR_CUDA_UNAVAILABLE = 8,     /* built without CUDA, or no driver / no device */
    SMOLDPO_ERR_CUDA = 9,                 /* a CUDA runtime call failed */
    SMOLDPO_ERR_UNSUPPORTED_DEVICE = 10,  /* device argument is neither CPU nor CUDA */
    SMOLDPO_ERR_INTERNAL = 11
};

/* ---- devices --------------------------------------------------------------------------- */
enum smoldpo_device {
    SMOLDPO_DEVICE_CPU = 0,
    SMOLDPO_DEVICE_CUDA = 1
};

/* ---- limits ---------------------------------------------------------------------------- */
#define SMOLDPO_MAX_SOURCE_PIXELS 67108864 /* 64 MP: 64 * 2^20 pixels per source image */
#define SMOLDPO_MAX_SOURCE_EDGE 1048576    /* either side of a source image (2^20; API 1: 65536) */
#define SMOLDPO_MAX_EDGE 4096              /* any side after a resize (the Idefics3 4k cap) */
#define SMOLDPO_ERROR_MESSAGE_CAPACITY 256

/* Error details. Fill with zeros (or nothing) before a call; the library sets both fields. */
typedef struct smoldpo_error {
    int32_t code;
    char message[SMOLDPO_ERROR_MESSAGE_CAPACITY];
} smoldpo_error;

/* ---- library information --------------------------------------------------------------- */
SMOLDPO_API int32_t smoldpo_api_version(void);
/* Fixed name and explanation of a status code ("SMOLDPO_ERR_BUFFER_TOO_SMALL: ..."); never NULL. */
SMOLDPO_API const char *smoldpo_status_name(int32_t status);
/* Message of the last failed call on this thread (empty after a success); never NULL. Prefer the
 * err argument: it stays right when a caller hops threads between calls. */
SMOLDPO_API const char *smoldpo_last_error_message(void);
/* 1 when the library was compiled with the CUDA implementation, else 0. */
SMOLDPO_API int32_t smoldpo_cuda_compiled(void);
/* Number of usable CUDA devices: 0 when not compiled with CUDA, no driver, or no GPU. Never fails. */
SMOLDPO_API int32_t smoldpo_cuda_device_count(void);

/* ---- CUDA resources ---------------------------------------------------------------------
 * A CUDA call takes an execution context from a pool and gives it back when it returns: a CUDA
 * stream on the calling thread's current device, with device and pinned host buffers that only
 * grow. Repeated calls therefore allocate nothing once their buffers are large enough, queue their
 * work on that stream and wait for that stream alone, once, when the host needs the results (never
 * for the whole device). Concurrent calls each hold a context of their own, so the pool holds as
 * many contexts as calls ever ran at the same time. Idle contexts are freed by
 * smoldpo_cuda_release_cache(), and when the library is unloaded or the process exits. */
typedef struct smoldpo_cuda_cache_stats {
    int32_t contexts;          /* contexts alive, idle or in use by a call */
    int32_t idle_contexts;     /* of those, the ones no call holds now */
    int64_t device_bytes;      /* device memory held by all contexts */
    int64_t pinned_host_bytes; /* page-locked host memory held by all contexts */
    int64_t allocations;       /* device and pinned allocations made since the library was loaded */
} smoldpo_cuda_cache_stats;

/* The pool's figures now (all zeros without CUDA); a NULL stats is ignored. Never fails. */
SMOLDPO_API void smoldpo_cuda_cache_stats_get(smoldpo_cuda_cache_stats *stats);
/* Frees the streams and buffers of every idle context; contexts in use by running calls are left
 * to them. SMOLDPO_OK, or SMOLDPO_ERR_CUDA when the runtime refused to free something. */
SMOLDPO_API int32_t smoldpo_cuda_release_cache(smoldpo_error *err);

/* ---- image preprocessing (Idefics3ImageProcessor semantics) ----------------------------- */

/* Byte order of the decoded 8-bit pixels. Channels: 3 or 4 for RGB/BGR, 4 for the others; a
 * 1-channel image is gray (layout RGB or BGR, ignored) and is replicated into R, G and B. */
enum smoldpo_pixel_layout {
    SMOLDPO_LAYOUT_RGB = 0,  /* R,G,B           (3 channels) or R,G,B,A (4 channels) */
    SMOLDPO_LAYOUT_BGR = 1,  /* B,G,R           (3 channels) or B,G,R,A (4 channels): AWT TYPE_3BYTE_BGR,
                                TYPE_INT_ARGB as little-endian bytes */
    SMOLDPO_LAYOUT_ABGR = 2, /* A,B,G,R         (4 channels): AWT TYPE_4BYTE_ABGR */
    SMOLDPO_LAYOUT_BGRX = 3  /* B,G,R,unused    (4 channels): AWT TYPE_INT_RGB as little-endian bytes */
};

/* One decoded image. Input is validated: NULL data, data_len shorter than the rows, sizes <= 0,
 * a side over SMOLDPO_MAX_SOURCE_EDGE, more than SMOLDPO_MAX_SOURCE_PIXELS pixels and channel
 * counts other than 1, 3, 4 are errors. Four-channel images with alpha are composited onto white (PIL
 * alpha_composite arithmetic), as Idefics3's convert_to_rgb does. */
typedef struct smoldpo_image {
    const uint8_t *data;  /* first byte of the first row */
    int64_t data_len;     /* bytes readable from data */
    int32_t width;
    int32_t height;
    int32_t channels;     /* 1 (gray), 3 or 4 */
    int32_t layout;       /* enum smoldpo_pixel_layout */
    int64_t row_stride;   /* bytes from one row to the next; 0 means width * channels */
} smoldpo_image;

/* Mirrors preprocessor_config.json. smoldpo_preprocess_config_init() gives SmolVLM's values. */
typedef struct smoldpo_preprocess_config {
    int32_t do_resize;          /* 1: longest edge -> longest_edge (up or down), short side even */
    int32_t longest_edge;       /* size.longest_edge (2048); at most SMOLDPO_MAX_EDGE */
    int32_t do_image_splitting; /* 1: resize to tile multiples, cut tiles, append global image;
                                   0: resize to a tile_size square (aspect not kept), one tile */
    int32_t tile_size;          /* max_image_size.longest_edge (512); used in both modes */
    int32_t do_rescale;         /* 1: multiply by rescale_factor */
    int32_t do_normalize;       /* 1: (x - mean) / std per channel */
    double rescale_factor;      /* 1/255 */
    float image_mean[3];        /* 0.5, 0.5, 0.5 */
    float image_std[3];         /* 0.5, 0.5, 0.5 */
} smoldpo_preprocess_config;

/* What happens to one image; filled by smoldpo_preprocess_plan and smoldpo_preprocess. */
typedef struct smoldpo_image_plan {
    int32_t resized_width;  /* after the longest-edge resize */
    int32_t resized_height;
    int32_t split_width;    /* after the resize to tile multiples; tile_size without splitting */
    int32_t split_height;
    int32_t rows;           /* tile grid; 0 x 0 when the image fits one tile (then only the global image)
                               and always without splitting (the squared image is the one tile) */
    int32_t cols;
    int32_t tile_count;     /* rows * cols + 1 (the global image is last) */
    int32_t reserved;
    int64_t first_tile;     /* index of this image's first tile in the batch output */
} smoldpo_image_plan;

/* Output geometry of a whole batch. */
typedef struct smoldpo_batch_plan {
    int64_t total_tiles;      /* sum of tile_count */
    int32_t canvas_height;    /* tile_size: every output image is a tile_size square */
    int32_t canvas_width;     /* tile_size */
    int64_t pixel_values_len; /* floats: total_tiles * 3 * canvas_height * canvas_width */
    int64_t pixel_mask_len;   /* bytes: total_tiles * canvas_height * canvas_width */
} smoldpo_batch_plan;

SMOLDPO_API void smoldpo_preprocess_config_init(smoldpo_preprocess_config *cfg);

/* Validates the batch and computes sizes, grids and output lengths without touching pixels.
 * plans has room for count entries (may be NULL), batch may be NULL. */
SMOLDPO_API int32_t smoldpo_preprocess_plan(const smoldpo_image *images, int32_t count,
                                            const smoldpo_preprocess_config *cfg,
                                            smoldpo_image_plan *plans, smoldpo_batch_plan *batch,
                                            smoldpo_error *err);

/* Runs the processor on count images. pixel_values receives [total_tiles, 3, canvas_h, canvas_w]
 * float32 (channels first), tiles of each image row-major then its global image; pixel_mask (may be
 * NULL) receives [total_tiles, canvas_h, canvas_w] bytes, 1 on real pixels (all of them: no tile
 * is padded, since every image becomes tile_size squares).
 * plans (may be NULL) receives the per-image plans. Lengths are in elements. */
SMOLDPO_API int32_t smoldpo_preprocess(int32_t device, const smoldpo_image *images, int32_t count,
                                       const smoldpo_preprocess_config *cfg,
                                       smoldpo_image_plan *plans, float *pixel_values,
                                       int64_t pixel_values_len, uint8_t *pixel_mask,
                                       int64_t pixel_mask_len, smoldpo_error *err);

/* The same pipeline stopped before rescale/normalise: uint8 [total_tiles, 3, canvas_h, canvas_w]. */
SMOLDPO_API int32_t smoldpo_preprocess_u8(int32_t device, const smoldpo_image *images, int32_t count,
                                          const smoldpo_preprocess_config *cfg,
                                          smoldpo_image_plan *plans, uint8_t *pixels,
                                          int64_t pixels_len, smoldpo_error *err);

/* One PIL-exact LANCZOS resize (after compositing onto white) to out_width x out_height, written as
 * interleaved RGB bytes (out_len >= out_width * out_height * 3). */
SMOLDPO_API int32_t smoldpo_resize_u8(int32_t device, const smoldpo_image *src, int32_t out_width,
                                      int32_t out_height, uint8_t *out_rgb, int64_t out_len,
                                      smoldpo_error *err);

/* ---- fused DPO loss --------------------------------------------------------------------- */

enum smoldpo_loss_type {
    SMOLDPO_LOSS_SIGMOID = 0,   /* -(1-e) log s(bD) - e log s(-bD)                         */
    SMOLDPO_LOSS_ROBUST = 1,    /* [-(1-e) log s(bD) + e log s(-bD)] / (1 - 2e), e < 0.5      */
    SMOLDPO_LOSS_HINGE = 2,     /* max(0, 1 - bD)                                          */
    SMOLDPO_LOSS_IPO = 3,       /* (D' - 1/(2b))^2, log-probs divided by completion length  */
    SMOLDPO_LOSS_APO_ZERO = 4,  /* (1 - s(bDc)) + s(bDr)                                    */
    SMOLDPO_LOSS_SPPO_HARD = 5, /* (Dc - 1/(2b))^2 + (Dr + 1/(2b))^2                        */
    SMOLDPO_LOSS_NCA_PAIR = 6,  /* -log s(bDc) - 1/2 log s(-bDc) - 1/2 log s(-bDr)          */
    SMOLDPO_LOSS_APO_DOWN = 7   /* s(bDc) + (1 - s(bD))                                     */
};

/* Flags combined with a loss type. */
#define SMOLDPO_DPO_REFERENCE_FREE 1 /* reference log-probs are taken as 0 (ref pointers may be NULL) */

typedef struct smoldpo_dpo_params {
    int32_t loss_type;      /* enum smoldpo_loss_type */
    int32_t flags;          /* SMOLDPO_DPO_* */
    double beta;            /* > 0 */
    double label_smoothing; /* in [0, 1); < 0.5 for robust */
} smoldpo_dpo_params;

/* Per-pair outputs, each [batch] doubles; any pointer may be NULL to skip that output. */
typedef struct smoldpo_dpo_outputs {
    double *losses;           /* per-pair loss */
    double *grad_chosen;      /* d mean_loss / d policy_chosen_logps[i] */
    double *grad_rejected;    /* d mean_loss / d policy_rejected_logps[i] */
    double *rewards_chosen;   /* beta * (pc - rc), from the summed log-probs (for ipo too, as TRL logs them) */
    double *rewards_rejected; /* beta * (pr - rr) */
    double *margins;          /* rewards_chosen - rewards_rejected */
} smoldpo_dpo_outputs;

/* Batch means: the TRL metrics. */
typedef struct smoldpo_dpo_summary {
    double loss;             /* mean loss */
    double rewards_chosen;   /* rewards/chosen */
    double rewards_rejected; /* rewards/rejected */
    double rewards_accuracy; /* rewards/accuracies: fraction with reward_chosen > reward_rejected */
    double rewards_margin;   /* rewards/margins */
    double logps_chosen;     /* logps/chosen (policy, summed; for ipo too) */
    double logps_rejected;   /* logps/rejected */
} smoldpo_dpo_summary;

/* One pass over [batch] pairs. policy_* required; reference_* required unless REFERENCE_FREE;
 * lengths (completion token counts, > 0) required for ipo, ignored otherwise. summary may be NULL. */
SMOLDPO_API int32_t smoldpo_dpo_loss(int32_t device, int64_t batch, const double *policy_chosen,
                                     const double *policy_rejected, const double *reference_chosen,
                                     const double *reference_rejected, const int32_t *chosen_lengths,
                                     const int32_t *rejected_lengths,
                                     const smoldpo_dpo_params *params,
                                     const smoldpo_dpo_outputs *outputs,
                                     smoldpo_dpo_summary *summary, smoldpo_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SMOLDPO_H */
