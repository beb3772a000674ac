/* A thread-safe pool of execution contexts, each holding grow-only buffers. Not part of the public ABI.
 *
 * The CUDA path takes one context per call (a stream plus its device and pinned host buffers) and
 * gives it back at the end, so concurrent calls never share a buffer or a stream, and a sequence of
 * calls reuses the same memory without allocating. The number of contexts is the largest number of
 * calls that ran at the same time, not the number of threads that ever called.
 *
 * The allocation functions are supplied by the user (cudaStreamCreate / cudaMalloc /
 * cudaMallocHost in cuda/smoldpo_cuda.cu, malloc in the C tests), so this logic is tested on
 * machines without a GPU. */
#ifndef SMOLDPO_CTX_POOL_H
#define SMOLDPO_CTX_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SD_POOL_SLOTS 16

typedef struct sd_pool_buf {
    void *p;
    size_t n; /* bytes reserved at p */
} sd_pool_buf;

typedef struct sd_pool_ctx {
    struct sd_pool_ctx *next; /* link in the idle list */
    int32_t key;              /* what the context is bound to: the CUDA device ordinal */
    void *handle;             /* the user's per-context object: the CUDA stream */
    sd_pool_buf bufs[SD_POOL_SLOTS];
} sd_pool_ctx;

/* Every function returns 0 on success or a non-zero user error code (a cudaError_t). */
typedef struct sd_pool_ops {
    int (*create)(int32_t key, void **handle);
    /* Waits for the work queued on handle: called before a buffer it may still use is replaced. */
    int (*wait)(void *handle);
    void (*destroy)(void *handle);
    /* slot tells the user what kind of memory to allocate (device or pinned host). */
    int (*alloc)(int slot, size_t n, void **p);
    void (*release)(int slot, void *p);
    /* Whether slot holds host memory (for the statistics). */
    int (*is_host)(int slot);
} sd_pool_ops;

typedef struct sd_pool {
    pthread_mutex_t lock; /* guards everything below; never held while the user's functions wait */
    const sd_pool_ops *ops;
    sd_pool_ctx *idle;
    int32_t contexts; /* alive: idle or in use */
    int32_t idle_count;
    int64_t device_bytes;
    int64_t host_bytes;
    int64_t allocations; /* successful alloc calls since start */
} sd_pool;

#define SD_POOL_INIT(ops_ptr) {PTHREAD_MUTEX_INITIALIZER, (ops_ptr), NULL, 0, 0, 0, 0, 0}

typedef struct sd_pool_stats {
    int32_t contexts;
    int32_t idle_contexts;
    int64_t device_bytes;
    int64_t host_bytes;
    int64_t allocations;
} sd_pool_stats;

/* An idle context bound to key, or a new one. The caller owns it until sd_pool_release. */
int sd_pool_acquire(sd_pool *pool, int32_t key, sd_pool_ctx **out);
/* Gives the context back; with discard != 0 (after a failure) it is destroyed instead. */
void sd_pool_release(sd_pool *pool, sd_pool_ctx *ctx, int discard);
/* Makes slot hold at least n bytes and returns its address. A buffer only grows; when it must, the
 * context's queued work is waited for first, since it may still read the old buffer. On failure the
 * slot is left empty. */
int sd_pool_reserve(sd_pool *pool, sd_pool_ctx *ctx, int slot, size_t n, void **out);
/* Destroys every idle context (contexts in use stay); returns how many were destroyed. */
int32_t sd_pool_trim(sd_pool *pool);
void sd_pool_get_stats(sd_pool *pool, sd_pool_stats *out);

#ifdef __cplusplus
}
#endif

#endif
