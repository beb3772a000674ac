package dev.smoldpo.nativelib;

/**
 * The figures of the native library's CUDA context pool (see {@code smoldpo.h}, "CUDA resources"):
 * each CUDA call takes a context (a stream with device and pinned buffers that only grow) and gives
 * it back, so a steady stream of calls shows a constant {@code allocations} count.
 *
 * @param contexts        contexts alive, idle or in use by a call
 * @param idleContexts    of those, the ones no call holds now
 * @param deviceBytes     device memory held by all contexts
 * @param pinnedHostBytes page-locked host memory held by all contexts
 * @param allocations     device and pinned allocations since the library was loaded
 */
public record CudaCacheStats(int contexts, int idleContexts, long deviceBytes, long pinnedHostBytes, long allocations) {}
