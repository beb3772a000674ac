/* Per-pixel arithmetic shared by the C and CUDA code (plain inline functions, host+device). */
#ifndef SMOLDPO_PIXEL_OPS_H
#define SMOLDPO_PIXEL_OPS_H

#include <stdint.h>

#ifdef __CUDACC__
#define SD_HD __host__ __device__ __forceinline__
#else
#define SD_HD static inline
#endif

/* PIL's alpha_composite of (r,g,b,a) over opaque white, integer path with 7 extra bits:
 * coef1 = a * 2^7, coef2 = (255 - a) * 2^7, out = div255(c*coef1 + 255*coef2 + 2^14) >> 7
 * where div255(x) = ((x >> 8) + x) >> 8. */
SD_HD uint8_t sd_over_white(uint32_t c, uint32_t a) {
    if (a == 0) return 255;
    uint32_t coef1 = a << 7;
    uint32_t coef2 = (255u - a) << 7;
    uint32_t t = c * coef1 + 255u * coef2 + (0x80u << 7);
    return (uint8_t)((((t >> 8) + t) >> 8) >> 7);
}

/* Reads one source pixel as opaque RGB. layout: enum smoldpo_pixel_layout. */
SD_HD void sd_load_rgb(const uint8_t *p, int32_t channels, int32_t layout, uint8_t *rgb) {
    uint32_t r, g, b, a = 255;
    if (channels == 1) { /* gray: replicated, as PIL's L -> RGB */
        rgb[0] = rgb[1] = rgb[2] = p[0];
        return;
    }
    if (layout == 0) { /* RGB[A] */
        r = p[0]; g = p[1]; b = p[2];
        if (channels == 4) a = p[3];
    } else if (layout == 1) { /* BGR[A] */
        b = p[0]; g = p[1]; r = p[2];
        if (channels == 4) a = p[3];
    } else if (layout == 2) { /* ABGR */
        a = p[0]; b = p[1]; g = p[2]; r = p[3];
    } else { /* BGRX */
        b = p[0]; g = p[1]; r = p[2];
    }
    if (a != 255) {
        r = sd_over_white(r, a);
        g = sd_over_white(g, a);
        b = sd_over_white(b, a);
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

/* Fixed-point accumulator (22 fractional bits, rounding offset preloaded) to a clamped byte. */
SD_HD uint8_t sd_clip8(int32_t acc) {
    int32_t v = acc >> 22;
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

#endif
