/* The context pool (src/ctx_pool.c) with malloc as its allocator: reuse, growth, keys, failures,
 * trimming, and 8 threads taking, filling and returning contexts while a 9th trims. */
#define _POSIX_C_SOURCE 200809L /* rand_r, sched_yield */
#include "check.h"
#include "ctx_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* A malloc allocator that counts what is alive and can be told to fail. */
static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static long live_buffers, live_handles, waits;
static int fail_create, fail_alloc;

static int t_create(int32_t key, void **handle) {
    if (fail_create) return 77;
    int32_t *h = malloc(sizeof *h);
    *h = key;
    *handle = h;
    pthread_mutex_lock(&alloc_lock);
    live_handles++;
    pthread_mutex_unlock(&alloc_lock);
    return 0;
}
static int t_wait(void *handle) {
    (void)handle;
    pthread_mutex_lock(&alloc_lock);
    waits++;
    pthread_mutex_unlock(&alloc_lock);
    return 0;
}
static void t_destroy(void *handle) {
    free(handle);
    pthread_mutex_lock(&alloc_lock);
    live_handles--;
    pthread_mutex_unlock(&alloc_lock);
}
static int t_alloc(int slot, size_t n, void **p) {
    (void)slot;
    if (fail_alloc) return 2;
    *p = malloc(n);
    pthread_mutex_lock(&alloc_lock);
    live_buffers++;
    pthread_mutex_unlock(&alloc_lock);
    return 0;
}
static void t_release(int slot, void *p) {
    (void)slot;
    free(p);
    pthread_mutex_lock(&alloc_lock);
    live_buffers--;
    pthread_mutex_unlock(&alloc_lock);
}
static int t_is_host(int slot) { return slot >= 8; }

static const sd_pool_ops OPS = {t_create, t_wait, t_destroy, t_alloc, t_release, t_is_host};

static void single_thread(void) {
    sd_pool pool = SD_POOL_INIT(&OPS);
    sd_pool_stats st;
    sd_pool_ctx *a, *b;
    void *p, *q;
    CHECK(sd_pool_acquire(&pool, 0, &a) == 0 && a, "acquire");
    CHECK(sd_pool_reserve(&pool, a, 0, 1000, &p) == 0 && p, "reserve");
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 1 && st.idle_contexts == 0 && st.allocations == 1, "after one reserve: %d %d %lld",
          st.contexts, st.idle_contexts, (long long)st.allocations);
    CHECK(st.device_bytes >= 1000 && st.host_bytes == 0, "device bytes %lld", (long long)st.device_bytes);
    CHECK(sd_pool_reserve(&pool, a, 0, 500, &q) == 0 && q == p, "a smaller reserve keeps the buffer");
    CHECK(sd_pool_reserve(&pool, a, 9, 300, &q) == 0 && q, "host slot");
    sd_pool_get_stats(&pool, &st);
    CHECK(st.allocations == 2 && st.host_bytes >= 300, "host bytes %lld", (long long)st.host_bytes);
    long waits_before = waits;
    size_t had = a->bufs[0].n;
    CHECK(sd_pool_reserve(&pool, a, 0, had + 1, &q) == 0 && a->bufs[0].n >= had + had / 2, "grows by half at least");
    CHECK(waits == waits_before + 1, "growing waits for queued work first (%ld waits)", waits - waits_before);
    CHECK(live_buffers == 2, "the old buffer was freed: %ld live", live_buffers);
    memset(q, 7, had + 1);
    sd_pool_release(&pool, a, 0);
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 1 && st.idle_contexts == 1, "released: %d idle", st.idle_contexts);
    /* the same key gets the same context back, buffers included: no allocation */
    CHECK(sd_pool_acquire(&pool, 0, &b) == 0 && b == a, "reused context");
    CHECK(sd_pool_reserve(&pool, b, 0, had, &p) == 0 && p == q, "reused buffer");
    sd_pool_get_stats(&pool, &st);
    CHECK(st.allocations == 3, "no allocation on reuse: %lld", (long long)st.allocations);
    /* another key (device) never gets it */
    sd_pool_ctx *other;
    sd_pool_release(&pool, b, 0);
    CHECK(sd_pool_acquire(&pool, 1, &other) == 0 && other != a && other->key == 1, "key 1 gets a new context");
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 2 && st.idle_contexts == 1, "two contexts, one idle");
    /* trim frees the idle one, not the one in use */
    CHECK(sd_pool_trim(&pool) == 1, "trim frees one");
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 1 && st.idle_contexts == 0 && st.device_bytes == 0 && st.host_bytes == 0,
          "after trim: %d contexts, %lld device bytes", st.contexts, (long long)st.device_bytes);
    CHECK(live_buffers == 0 && live_handles == 1, "live %ld buffers, %ld handles", live_buffers, live_handles);
    /* a failed allocation leaves the slot empty and the figures right */
    fail_alloc = 1;
    CHECK(sd_pool_reserve(&pool, other, 3, 64, &p) == 2 && p == NULL && other->bufs[3].n == 0, "alloc failure");
    fail_alloc = 0;
    sd_pool_get_stats(&pool, &st);
    CHECK(st.device_bytes == 0 && st.allocations == 3, "failure counted nothing");
    CHECK(sd_pool_reserve(&pool, other, 3, 64, &p) == 0 && p, "then succeeds");
    /* a context given back after a failure is destroyed, not reused */
    sd_pool_release(&pool, other, 1);
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 0 && st.idle_contexts == 0 && st.device_bytes == 0, "discarded");
    CHECK(live_buffers == 0 && live_handles == 0, "discard freed everything");
    /* a failed create is reported and leaks nothing */
    fail_create = 1;
    sd_pool_ctx *none = (sd_pool_ctx *)1;
    CHECK(sd_pool_acquire(&pool, 0, &none) == 77 && none == NULL, "create failure");
    fail_create = 0;
    sd_pool_get_stats(&pool, &st);
    CHECK(st.contexts == 0 && live_handles == 0, "nothing after a failed create");
}

#define THREADS 8
#define ITERATIONS 3000
static sd_pool shared_pool = SD_POOL_INIT(&OPS);
static volatile int trimming = 1;

/* Each iteration takes a context, fills a buffer of a varying size with its thread's mark, yields,
 * and checks that no other thread wrote to it before giving it back. */
static void *worker(void *arg) {
    const int id = (int)(intptr_t)arg;
    unsigned seed = 1234u + (unsigned)id;
    long *bad = calloc(1, sizeof *bad);
    for (int it = 0; it < ITERATIONS; it++) {
        sd_pool_ctx *c;
        if (sd_pool_acquire(&shared_pool, 0, &c)) {
            (*bad)++;
            continue;
        }
        size_t n = 256 + (size_t)(rand_r(&seed) % 200000);
        uint8_t *p;
        if (sd_pool_reserve(&shared_pool, c, it % 2, n, (void **)&p)) {
            (*bad)++;
            sd_pool_release(&shared_pool, c, 1);
            continue;
        }
        memset(p, id + 1, n);
        sched_yield();
        for (size_t k = 0; k < n; k += 97) *bad += p[k] != (uint8_t)(id + 1);
        sd_pool_release(&shared_pool, c, 0);
    }
    return bad;
}

static void *trimmer(void *arg) {
    (void)arg;
    long n = 0;
    while (trimming) {
        n += sd_pool_trim(&shared_pool);
        sched_yield();
    }
    return (void *)(intptr_t)n;
}

static void many_threads(void) {
    pthread_t t[THREADS], tr;
    pthread_create(&tr, NULL, trimmer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += *(long *)r;
        free(r);
    }
    trimming = 0;
    void *trimmed;
    pthread_join(tr, &trimmed);
    sd_pool_stats st;
    sd_pool_get_stats(&shared_pool, &st);
    printf("pool: %d threads x %d calls: %d contexts left (%d idle), %lld allocations, %ld contexts trimmed meanwhile\n",
           THREADS, ITERATIONS, st.contexts, st.idle_contexts, (long long)st.allocations, (long)(intptr_t)trimmed);
    CHECK(bad == 0, "%ld corrupted or failed iterations: a buffer was shared between threads", bad);
    CHECK(st.contexts <= THREADS && st.contexts == st.idle_contexts, "%d contexts for %d threads", st.contexts, THREADS);
    sd_pool_trim(&shared_pool);
    sd_pool_get_stats(&shared_pool, &st);
    CHECK(st.contexts == 0 && st.device_bytes == 0 && st.host_bytes == 0, "all freed");
    CHECK(live_buffers == 0 && live_handles == 0, "no leak: %ld buffers, %ld handles", live_buffers, live_handles);
}

void test_pool(void) {
    single_thread();
    many_threads();
}
