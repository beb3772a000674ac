#!/usr/bin/env bash
# The PyTorch + PEFT side of the GPU benchmark (torch_dpo_baseline.py), each figure with its process's
# GPU memory peak as nvidia-smi sees it:
#   bash gpu-baseline.sh CONFIG_JSON FACTS_DIR [PRECISION...]     (default precisions: bf16 fp32)
# Per precision, B=4 runs in a process of its own (its peak compares with ORT's B=4 process: the
# goal's figure), then B=1 and 8 in one process (not with BASELINE_ONLY_B4=1). Writes FACTS_DIR/torch_<precision>_b4.json,
# torch_<precision>_b4_peak_mib, torch_<precision>_b1_b8.json, ..._peak_mib, baseline.log, and
# FACTS_DIR/done when it has finished (gpu-check.sh waits for that when this runs in the background,
# started with setsid while the pack's parts are still arriving: the GPU is idle then).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="$1"; facts="$2"; shift 2
precisions=("$@"); (( ${#precisions[@]} )) || precisions=(bf16 fp32)
mkdir -p "$facts"; rm -f "$facts/done"; date > "$facts/started"
work="$facts/scratch"; mkdir -p "$work"
source "$here/gpu-lib.sh"
exec >> "$facts/baseline.log" 2>&1
python="${PYTHON:-$(command -v python3)}"
export PYTHONUNBUFFERED=1
status=0
for precision in "${precisions[@]}"; do
  echo "== PyTorch + PEFT baseline, $precision ($(date +%T))"
  with_gpu_peak "torch_${precision}_b4_peak_mib" timeout 150 "$python" "$here/torch_dpo_baseline.py" \
    --config "$config" --batch-sizes 4 --precisions "$precision" --out "$facts/torch_${precision}_b4.json" || status=1
  echo "  torch $precision B=4: peak GPU memory $(cat "$facts/torch_${precision}_b4_peak_mib") MiB above idle"
  [[ "${BASELINE_ONLY_B4:-0}" == 1 ]] && continue
  with_gpu_peak "torch_${precision}_b1_b8_peak_mib" timeout 150 "$python" "$here/torch_dpo_baseline.py" \
    --config "$config" --batch-sizes 1,8 --precisions "$precision" --out "$facts/torch_${precision}_b1_b8.json" || status=1
done
echo "== done ($(date +%T)), status $status"
echo "$status" > "$facts/done"
exit $status
