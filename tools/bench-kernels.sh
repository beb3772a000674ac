#!/usr/bin/env bash
# The native kernels (SmolVLM image preprocessing, fused DPO loss) on the CPU and on CUDA at fit's
# shapes, side by side, and the device fit should use for each (native/README.md, "Which device fit
# uses"). Needs no Java: it runs on a bare GPU host with CMake and nvcc, or from a copied build
# (smoldpo_bench finds libsmoldpo.so beside itself).
#
#   tools/bench-kernels.sh [--build-dir DIR] [--json FILE] [--iterations K] [--require-cuda]
#
# --build-dir  where native/ is built (default: target/bench-kernels, ignored by git); a DIR that already holds
#              smoldpo_bench is used as it is
# --json FILE  also write the figures as JSON (fields: cases[].kernel, shape, fit_shape, cpu_ms,
#              cuda_ms, cuda_over_cpu, identical; decision.preprocess, decision.dpo_loss: "cpu"|"cuda";
#              decision_basis)
# --require-cuda  exit 3 when no CUDA device is usable, instead of measuring the CPU alone
# Exit status: 0 done, 1 a CUDA result differed from the CPU's or a call failed, 2 bad arguments,
# 3 no GPU with --require-cuda. SMOLDPO_CUDA=ON|OFF|AUTO (default AUTO) is passed to CMake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/target/bench-kernels"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --json) args+=(--json "$2"); shift 2 ;;
    --iterations) args+=(--iterations "$2"); shift 2 ;;
    --require-cuda) args+=(--require-cuda); shift ;;
    *) echo "bench-kernels: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$build/smoldpo_bench" ]]; then
  cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSMOLDPO_CUDA="${SMOLDPO_CUDA:-AUTO}" \
    -DSMOLDPO_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target smoldpo_bench --parallel "$(nproc 2>/dev/null || echo 2)" >/dev/null
fi
exec "$build/smoldpo_bench" "${args[@]}"
