/* The context pool of ctx_pool.h. The lock guards the idle list and the counters only; the user's
 * functions (which may wait for a GPU) run outside it, on contexts the calling thread owns. */
#include "ctx_pool.h"

#include <stdlib.h>
#include <string.h>

/* Growth rule: at least half again the old size, rounded up to 64 KiB, so a stream of slightly
 * different image sizes settles after a few calls instead of reallocating on every larger one. */
static size_t grown_size(size_t old, size_t need) {
    size_t n = old + old / 2;
    if (n < need) n = need;
    const size_t unit = (size_t)64 << 10;
    if (n > SIZE_MAX - unit) return need;
    return (n + unit - 1) / unit * unit;
}

static void count_bytes(sd_pool *pool, int slot, int64_t delta) {
    if (pool->ops->is_host(slot))
        pool->host_bytes += delta;
    else
        pool->device_bytes += delta;
}

/* Frees a context that no other thread can reach any more. */
static void destroy_ctx(sd_pool *pool, sd_pool_ctx *ctx) {
    (void)pool->ops->wait(ctx->handle); /* a failed wait leaves nothing better to do than free */
    int64_t freed[SD_POOL_SLOTS];
    for (int s = 0; s < SD_POOL_SLOTS; s++) {
        freed[s] = (int64_t)ctx->bufs[s].n;
        if (ctx->bufs[s].p) pool->ops->release(s, ctx->bufs[s].p);
    }
    pool->ops->destroy(ctx->handle);
    pthread_mutex_lock(&pool->lock);
    for (int s = 0; s < SD_POOL_SLOTS; s++) count_bytes(pool, s, -freed[s]);
    pool->contexts--;
    pthread_mutex_unlock(&pool->lock);
    free(ctx);
}

int sd_pool_acquire(sd_pool *pool, int32_t key, sd_pool_ctx **out) {
    *out = NULL;
    pthread_mutex_lock(&pool->lock);
    for (sd_pool_ctx **link = &pool->idle; *link; link = &(*link)->next) {
        if ((*link)->key == key) {
            sd_pool_ctx *ctx = *link;
            *link = ctx->next;
            ctx->next = NULL;
            pool->idle_count--;
            pthread_mutex_unlock(&pool->lock);
            *out = ctx;
            return 0;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    sd_pool_ctx *ctx = (sd_pool_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return -1;
    int rc = pool->ops->create(key, &ctx->handle);
    if (rc) {
        free(ctx);
        return rc;
    }
    ctx->key = key;
    pthread_mutex_lock(&pool->lock);
    pool->contexts++;
    pthread_mutex_unlock(&pool->lock);
    *out = ctx;
    return 0;
}

void sd_pool_release(sd_pool *pool, sd_pool_ctx *ctx, int discard) {
    if (!ctx) return;
    if (discard) {
        destroy_ctx(pool, ctx);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    ctx->next = pool->idle;
    pool->idle = ctx;
    pool->idle_count++;
    pthread_mutex_unlock(&pool->lock);
}

int sd_pool_reserve(sd_pool *pool, sd_pool_ctx *ctx, int slot, size_t n, void **out) {
    sd_pool_buf *b = &ctx->bufs[slot];
    if (b->p && b->n >= n) {
        *out = b->p;
        return 0;
    }
    *out = NULL;
    const size_t want = grown_size(b->n, n ? n : 1);
    int rc = 0;
    if (b->p) {
        rc = pool->ops->wait(ctx->handle); /* queued work may still read the old buffer */
        if (rc) return rc;
        pool->ops->release(slot, b->p);
    }
    const int64_t old = (int64_t)b->n;
    b->p = NULL;
    b->n = 0;
    rc = pool->ops->alloc(slot, want, &b->p);
    if (rc) b->p = NULL;
    else b->n = want;
    pthread_mutex_lock(&pool->lock);
    count_bytes(pool, slot, (int64_t)b->n - old);
    if (!rc) pool->allocations++;
    pthread_mutex_unlock(&pool->lock);
    *out = b->p;
    return rc;
}

int32_t sd_pool_trim(sd_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    sd_pool_ctx *list = pool->idle;
    pool->idle = NULL;
    pool->idle_count = 0;
    pthread_mutex_unlock(&pool->lock);
    int32_t n = 0;
    while (list) {
        sd_pool_ctx *next = list->next;
        destroy_ctx(pool, list);
        list = next;
        n++;
    }
    return n;
}

void sd_pool_get_stats(sd_pool *pool, sd_pool_stats *out) {
    pthread_mutex_lock(&pool->lock);
    out->contexts = pool->contexts;
    out->idle_contexts = pool->idle_count;
    out->device_bytes = pool->device_bytes;
    out->host_bytes = pool->host_bytes;
    out->allocations = pool->allocations;
    pthread_mutex_unlock(&pool->lock);
}
