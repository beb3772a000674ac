# Functions shared by tools/gpu-check.sh and tools/gpu-baseline.sh (sourced, not run). Both keep the
# figures they record as small files in $facts (one per fact; *.json hold JSON) and scratch in $work.

fact() { printf '%s' "$2" > "$facts/$1"; }            # fact NAME VALUE

# GPU memory in use on the first GPU, MiB (every process's, as nvidia-smi reports it)
gpu_mem_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }

# with_gpu_peak FACT COMMAND...: runs the command and records, as FACT, the most GPU memory nvidia-smi
# saw in use while it ran (polled every 100 ms) less what was in use before it: the command's peak,
# CUDA context included, measured the same way for every framework. 0 without nvidia-smi.
with_gpu_peak() {
  local fact_name=$1; shift
  if ! command -v nvidia-smi >/dev/null; then "$@"; local rc=$?; fact "$fact_name" 0; return $rc; fi
  local idle; idle=$(gpu_mem_used)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$work/$fact_name.mem" &
  local poller=$!
  "$@"; local rc=$?
  kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null
  local peak; peak=$(sort -n "$work/$fact_name.mem" | tail -1)
  fact "$fact_name" "$(( ${peak:-$idle} - idle ))"
  return $rc
}
