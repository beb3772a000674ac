/* The C tests' failure counter and CHECK macro, shared by the test files. */
#ifndef SMOLDPO_TEST_CHECK_H
#define SMOLDPO_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

extern int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* test_pool.c: the context pool with malloc, single-threaded and from 8 threads */
void test_pool(void);
/* test_tall.c: a 2 x 70,000 source (taller than CUDA's gridDim.y limit) and a 1 x 2^20 one on
 * device; with pixels_out, the u8 tiles of the 2 x 70,000 source are returned (malloc'd) */
void test_tall(int device, uint8_t **pixels_out, int64_t *len_out);
/* test_tall.c: CUDA only: buffer reuse, release, and concurrent calls that match the CPU */
void test_cuda_cache(void);

#endif
