#!/usr/bin/env bash
# The GPU check, run on the GPU host once the parts made by tools/gpu-pack.sh have arrived:
#   bash gpu-check.sh [PACK_DIR]        (PACK_DIR: where the parts were copied; default this script's folder)
# Joins and checks the parts, then, each step logged and timed:
#   1. nvidia-smi;
#   2. the CUDA libraries: the NVIDIA wheels of the Python environment, and smoldpo's own search
#      (dev.smoldpo.runtime.CudaCheck, without LD_LIBRARY_PATH; with it as a fallback, recorded);
#   3. the native library's ctests (smoldpo_tests), the CUDA-vs-CPU parity one included;
#   4. the demo `fit --device cuda` (held-out reward accuracy >= 0.90) and a CPU fit beside it (loss curves),
#      then eval and generate on CUDA;
#   5. SmolVLM-256M-shaped DPO train steps (random weights) at 1, 4 and 8 pairs per step, fp32 and
#      bf16 (export-artifacts --precision bf16), pairs/s and peak GPU memory (nvidia-smi, above idle);
#      then bf16 with recomputed activations (--recompute attention, vision, layers) at
#      GPU_CHECK_RECOMPUTE_PAIRS (default 4 and 8); last, bf16 at 4 pairs with SMOLDPO_SHARE_WEIGHTS=0 (each of
#      ORT's sessions loading its own copy of the weights), and ORT's warning logs searched for a shared
#      initializer it had to copy;
#   6. the PyTorch + PEFT baseline (torch_dpo_baseline.py) at the same shapes;
#   7. when time is left, 30 steps of the demo `grpo --device cuda` beside the same 30 on the CPU.
# Everything goes to $OUT/gpu-check.json and $OUT/gpu-check.log ($OUT, else PACK_DIR/results).
# Steps are skipped, with the reason recorded, once the time budget (GPU_CHECK_BUDGET_S, 480 s) runs
# low. Without a GPU it checks what it can and exits 1 naming what is missing.
#
# GPU_CHECK_DRY_RUN=1 rehearses the script on a machine without a GPU: every --device cuda becomes
# --device cpu, the 256M shapes shrink to 2 layers, and the GPU checks are reported as problems; the
# run still ends in failure (exit 1), which is what a machine without a GPU must get.
set -uo pipefail
dry="${GPU_CHECK_DRY_RUN:-0}"
dev=cuda; [[ "$dry" == 1 ]] && dev=cpu
pack="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")}" && pwd)"
results="${OUT:-$pack/results}"
mkdir -p "$results"
log="$results/gpu-check.log"
exec > >(tee -a "$log") 2>&1
budget="${GPU_CHECK_BUDGET_S:-480}"
t0=$(date +%s)
work="$pack/work"
unpacked="$pack/unpacked"
facts="$work/facts"           # one small file per recorded fact; assembled into JSON at the end
rm -rf "$work" && mkdir -p "$facts"
problems=()

elapsed() { echo $(( $(date +%s) - t0 )); }
say() { printf '\n[%4ds] == %s\n' "$(elapsed)" "$*"; }
source "$(dirname "${BASH_SOURCE[0]}")/gpu-lib.sh"   # fact, with_gpu_peak
problem() { echo "PROBLEM: $*"; problems+=("$*"); }
# room STEP SECONDS: whether SECONDS more fit in the budget; records the skip otherwise
room() {
  if (( $(elapsed) + $2 > budget )); then
    echo "skipped $1: ${2}s would pass the ${budget}s budget at $(elapsed)s"; fact "skipped.$1" "time budget"; return 1
  fi
}

# -- 0. parts ---------------------------------------------------------------------------------
say "parts in $pack"
manifest="$pack/MANIFEST.sha256"
if [[ ! -f "$manifest" ]]; then
  problem "no MANIFEST.sha256 in $pack: copy every gpu-pack/part-NN/* there first"
else
  missing_parts=()
  while read -r sum name; do
    [[ "$sum" == \#* || "$name" == payload.tar.xz ]] && continue
    if [[ ! -f "$pack/$name" ]]; then missing_parts+=("$name"); continue; fi
    echo "$sum  $pack/$name" | sha256sum -c --quiet - || problem "part $name is corrupt (sha256 differs from MANIFEST.sha256)"
  done < <(grep -v '^#' "$manifest")
  if (( ${#missing_parts[@]} )); then
    problem "parts missing from $pack: ${missing_parts[*]} (send each gpu-pack/part-NN in its own call, back to back)"
  elif [[ ! -f "$unpacked/FILES.sha256" ]]; then
    cat "$pack"/payload.tar.xz.[0-9][0-9] > "$work/payload.tar.xz"
    want=$(awk '$2 == "payload.tar.xz" {print $1}' "$manifest")
    got=$(sha256sum "$work/payload.tar.xz" | cut -d' ' -f1)
    if [[ "$want" != "$got" ]]; then
      problem "joined payload sha256 $got != $want"
    else
      rm -rf "$unpacked" && mkdir -p "$unpacked"
      xz -dc "$work/payload.tar.xz" | tar -x -C "$unpacked" && rm "$work/payload.tar.xz"
      (cd "$unpacked" && sha256sum -c --quiet FILES.sha256) || problem "unpacked files differ from FILES.sha256"
    fi
  fi
fi
if [[ ! -x "$unpacked/jre/bin/java" ]]; then
  problem "nothing unpacked: the steps below need the pack"
  unpacked=""
else
  echo "unpacked: $(du -sh "$unpacked" | cut -f1) from commit $(cat "$unpacked/COMMIT")"
  fact commit "$(cat "$unpacked/COMMIT")"
fi

torch_bg="${TORCH_BASELINE_DIR:-$pack/torch-baseline}"
if [[ -f "$torch_bg/started" ]]; then
  # the background baseline must be finished before anything here uses the GPU: its timings and peaks
  # must be its own, and so must ORT's
  say "waiting for the background PyTorch baseline ($torch_bg)"
  for _ in $(seq 1 180); do [[ -f "$torch_bg/done" ]] && break; sleep 1; done
  [[ -f "$torch_bg/done" ]] || { problem "the background PyTorch baseline did not finish: stopping it"; pkill -f torch_dpo_baseline.py; sleep 2; }
fi

# -- 1. GPU ----------------------------------------------------------------------------------
say "nvidia-smi"
gpu=0
if command -v nvidia-smi >/dev/null; then
  nvidia-smi || problem "nvidia-smi failed"
  if q=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null) && [[ -n "$q" ]]; then
    gpu=1; fact gpu "$q"
  fi
else
  problem "no nvidia-smi: this machine has no NVIDIA driver"
fi
(( gpu )) || problem "no GPU: the CUDA steps (CudaCheck, fit --device cuda, train-step timings, PyTorch baseline) cannot run"

# -- 2. CUDA libraries -----------------------------------------------------------------------
say "CUDA libraries"
python=$(command -v python3 || true)
if [[ -n "$python" ]]; then
  echo "python3: $python ($("$python" --version 2>&1))"
  "$python" - <<'PY' | tee "$facts/python_nvidia_libs.txt"
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for lib in sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib"))):
        names = sorted(n for n in os.listdir(lib) if n.startswith(("libcudart.so", "libcublas", "libcudnn.so")))
        print(lib + ": " + (", ".join(names) or "-"))
PY
fi
java_args=(--enable-preview --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Xss8m)
cuda_ok=0
if [[ -n "$unpacked" ]]; then
  java="$unpacked/jre/bin/java"
  jar="$unpacked/trainer.jar"
  # GPU_CHECK_JAR: a newer trainer.jar sent on its own (48 MiB) beside an unchanged pack
  if [[ -n "${GPU_CHECK_JAR:-}" ]]; then jar="$GPU_CHECK_JAR"; fact jar "$GPU_CHECK_JAR (not the pack's)"; fi
  export SMOLDPO_ORT_LIBRARY="$unpacked/ort-gpu/libonnxruntime.so.1"
  export SMOLDPO_CACHE="$work/cache"
  if ! ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 '; then
    echo "no libgomp.so.1 on this host: using the one packed beside libsmoldpo.so"
    export LD_LIBRARY_PATH="$unpacked/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  "$java" -version 2>&1 | head -1
  echo "-- CudaCheck (smoldpo's own search; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-unset})"
  if "$java" "${java_args[@]}" -cp "$jar" dev.smoldpo.runtime.CudaCheck 2>&1 | tee "$facts/cudacheck.txt"; then
    cuda_ok=1; fact cuda_libraries "found by smoldpo's search"
  elif [[ -s "$facts/python_nvidia_libs.txt" ]]; then
    problem "smoldpo's CUDA library search failed (above); retrying with the wheels' folders on LD_LIBRARY_PATH"
    wheel_dirs=$(cut -d: -f1 "$facts/python_nvidia_libs.txt" | paste -sd:)
    export LD_LIBRARY_PATH="$wheel_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if "$java" "${java_args[@]}" -cp "$jar" dev.smoldpo.runtime.CudaCheck 2>&1 | tee "$facts/cudacheck-ld.txt"; then
      cuda_ok=1; fact cuda_libraries "only with LD_LIBRARY_PATH=$wheel_dirs"
    fi
  fi
  (( cuda_ok )) || problem "ONNX Runtime's CUDA provider is not usable (see CudaCheck above)"
  if [[ "$dry" == 1 ]] && (( ! cuda_ok )); then
    echo "dry run: the steps below run on the CPU"; cuda_ok=1; gpu=1
  fi
fi
run_java() { "$java" "${java_args[@]}" -jar "$jar" "$@"; }

# -- 256M exports, on the CPU, in the background while steps 3 and 4 run --------------------
bench="$work/bench256"
model_config="${unpacked:+$unpacked/SmolVLM-256M-Instruct/config.json}"
if [[ "$dry" == 1 && -n "$unpacked" ]]; then
  # the rehearsal keeps SmolVLM-256M's widths but only 2 layers in each tower, so that it runs on 2 cores
  python3 - "$model_config" "$work/config-2-layers.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["text_config"]["num_hidden_layers"] = 2
c["vision_config"]["num_hidden_layers"] = 2
json.dump(c, open(sys.argv[2], "w"))
PY
  cp "$unpacked"/SmolVLM-256M-Instruct/*.json "$work/" 2>/dev/null; mv "$work/config-2-layers.json" "$work/config.json"
  model_config="$work/config.json"
fi
export_pid=""
if [[ -n "$unpacked" ]] && (( cuda_ok )); then
  say "exporting SmolVLM-256M-shaped artifacts (random weights) in fp32 and bf16, in the background"
  (
    start=$(date +%s)
    run_java bench-export --config "$model_config" --export-only --export-to "$bench" > "$work/export-fp32.log" 2>&1 \
      && fact export_fp32_seconds "$(( $(date +%s) - start ))"
    start=$(date +%s)
    run_java export-artifacts "$bench/model" --precision bf16 --out "$bench/artifacts-bf16" > "$work/export-bf16.log" 2>&1 \
      && fact export_bf16_seconds "$(( $(date +%s) - start ))"
    for recompute in attention vision layers; do
      run_java export-artifacts "$bench/model" --precision bf16 --recompute "$recompute" \
        --out "$bench/artifacts-bf16-$recompute" > "$work/export-bf16-$recompute.log" 2>&1
    done
  ) &
  export_pid=$!
fi

# -- 3. native ctests ------------------------------------------------------------------------
say "native library tests (smoldpo_tests, as ctest runs them)"
if [[ -n "$unpacked" ]]; then
  native="$unpacked/native"
  passed=0; failed=0
  while read -r name what; do
    out=$(LD_LIBRARY_PATH="$native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 120 "$native/smoldpo_tests" "$what" "$native/goldens" 2>&1)
    rc=$?
    echo "$out" | tail -3 | sed "s/^/  [$name] /"
    if [[ $what == cuda ]] && grep -q "no CUDA device" <<<"$out"; then
      rc=1; problem "native CUDA parity did not run: the library sees no CUDA device"
    fi
    if (( rc == 0 )); then passed=$((passed + 1)); fact "ctest.$name" passed
    else failed=$((failed + 1)); fact "ctest.$name" "failed (rc $rc)"; problem "native test $name failed"; fi
  done < "$native/ctests.txt"
  echo "$passed passed, $failed failed"
fi

# -- 3b. the native kernels on CUDA against the CPU: which device fit should use for each ---------
say "native kernels, CPU vs CUDA (tools/bench-kernels.sh; the rule in native/README.md)"
if [[ -n "$unpacked" ]] && (( gpu )) && room kernels 60; then
  # the pack's smoldpo_bench, else built here from the checkout (CMake and nvcc are on the host)
  bench_dir="$unpacked/native"; [[ -x "$bench_dir/smoldpo_bench" ]] || bench_dir="$work/bench-kernels"
  timeout 120 bash "$(dirname "${BASH_SOURCE[0]}")/bench-kernels.sh" --build-dir "$bench_dir" --json "$facts/kernels.json" \
    --require-cuda > "$work/bench-kernels.log" 2>&1 || problem "bench-kernels failed: $(tail -2 "$work/bench-kernels.log" | tr '\n' ' ')"
  grep -i -E 'decision|faster|cuda' "$work/bench-kernels.log" | tail -8
fi

# -- 4. demo fit on CUDA and CPU ------------------------------------------------------------
say "demo fit: --device cuda beside --device cpu"
if [[ -n "$unpacked" ]] && (( cuda_ok )) && room demo_fit 150; then
  run_java export-artifacts --out "$work/demo-artifacts" > "$work/demo-export.log" 2>&1 || problem "demo export failed: $(tail -3 "$work/demo-export.log")"
  # the CPU run in parallel (it is not timed), on its own copy of the export so that its reference
  # log-probs (cached in the export folder) are its own; its loss curve is the reference for the CUDA one
  cp -r "$work/demo-artifacts" "$work/demo-artifacts-cpu"
  run_java fit --artifacts "$work/demo-artifacts-cpu" --output-dir "$work/demo-cpu" --device cpu --threads 8 > "$work/demo-cpu.log" 2>&1 &
  cpu_pid=$!
  start=$(date +%s)
  # report: the nodes ORT placed on the CPU, of every session the fit opens (training, eval, optimizer, reference)
  demo_cuda() {
    SMOLDPO_ORT_LOG=warning SMOLDPO_SHARE_WEIGHTS=$1 SMOLDPO_CUDA_PLACEMENT_CHECK=report timeout 150 "$java" "${java_args[@]}" \
      -jar "$jar" fit --artifacts "$work/demo-artifacts" --output-dir "$work/demo-cuda" --device "$dev" --overwrite-output-dir \
      > "$work/demo-cuda.log" 2>&1
  }
  demo_cuda 1; rc=$?
  if (( rc != 0 )) && grep -q 'sharing the weights between sessions failed' "$work/demo-cuda.log"; then
    problem "sharing the weights failed in the demo fit: $(grep -m1 'sharing the weights' "$work/demo-cuda.log"); rerun with SMOLDPO_SHARE_WEIGHTS=0"
    cp "$work/demo-cuda.log" "$work/share-failure-demo.log"
    demo_cuda 0; rc=$?
  fi
  (( rc == 0 )) || problem "fit --device cuda failed: $(grep -m1 error: "$work/demo-cuda.log")"
  fact demo_fit_cuda_seconds "$(( $(date +%s) - start ))"
  tail -4 "$work/demo-cuda.log"
  grep '^cuda placement:' "$work/demo-cuda.log" > "$facts/demo_cuda_placement.txt"
  if grep -q '^cuda placement:.* [1-9][0-9]* compute)' "$work/demo-cuda.log"; then
    grep -A3 '^cuda placement:.* [1-9][0-9]* compute)' "$work/demo-cuda.log" | head -20
    problem "compute nodes ran on the CPU under --device cuda (cuda placement lines above)"
  fi
  wait "$cpu_pid" || problem "the CPU demo fit failed: $(grep -m1 error: "$work/demo-cpu.log")"
  tail -2 "$work/demo-cpu.log"
  for name in cuda cpu; do
    [[ -f "$work/demo-$name/loss.png" ]] && cp "$work/demo-$name/loss.png" "$results/demo-$name-loss.png"
  done
  "$python" - "$work" "$facts/demo_fit.json" <<'PY' || problem "demo fit: held-out accuracy below 0.90 or no summary"
import json, sys
work, out = sys.argv[1], sys.argv[2]
def run(name):
    try:
        summary = json.load(open(f"{work}/demo-{name}/summary.json"))
        curve = [[m["step"], m["loss"]] for m in map(json.loads, open(f"{work}/demo-{name}/metrics.jsonl")) if "loss" in m]
        return {"host_device_bytes_per_step": summary.get("host_device_bytes_per_step"),
                "host_device_bytes": summary.get("host_device_bytes"),
                "accuracy_before": summary["first_eval"]["eval_rewards/accuracies"],
                "accuracy_after": summary["last_eval"]["eval_rewards/accuracies"],
                "train_seconds": summary.get("train_seconds"), "loss_curve": curve}
    except (OSError, KeyError, ValueError) as e:
        return {"error": str(e)}
cuda, cpu = run("cuda"), run("cpu")
pairs = list(zip(cuda.get("loss_curve", []), cpu.get("loss_curve", [])))
result = {"cuda": cuda, "cpu": cpu,
          "max_abs_loss_difference": max((abs(a[1] - b[1]) for a, b in pairs if a[0] == b[0]), default=None)}
json.dump(result, open(out, "w"))
print("held-out accuracy: cuda %s, cpu %s; max |loss cuda - loss cpu| over %d logged steps: %s" % (
    cuda.get("accuracy_after"), cpu.get("accuracy_after"), len(pairs), result["max_abs_loss_difference"]))
sys.exit(0 if (cuda.get("accuracy_after") or 0) >= 0.90 else 1)
PY
fi

# -- 4b. eval and generate on CUDA, from the CUDA run's last checkpoint --------------------------
say "eval and generate --device cuda (and generate on the CPU beside it)"
checkpoint=$(ls -d "$work"/demo-cuda/checkpoint-* 2>/dev/null | sort -V | tail -1)
if [[ -n "$checkpoint" ]] && room eval_generate 60; then
  timeout 60 "$java" "${java_args[@]}" -jar "$jar" eval --checkpoint "$checkpoint" --device "$dev" > "$work/eval-cuda.log" 2>&1 \
    || problem "eval --device cuda failed: $(grep -m1 -i error "$work/eval-cuda.log")"
  grep -i 'accurac' "$work/eval-cuda.log" | tail -2 | tee "$facts/eval_cuda.txt"
  for label in cuda cpu; do
    device=$label; [[ $label == cuda ]] && device=$dev
    timeout 60 "$java" "${java_args[@]}" -jar "$jar" generate --artifacts "$work/demo-artifacts" --checkpoint "$checkpoint" \
      --dataset "$work/demo-cuda/demo_dataset.parquet" --index 0 --greedy --max-new-tokens 12 --device "$device" \
      --export-dir "$work/deploy-$label" > "$work/generate-$label.log" 2>&1 \
      || problem "generate --device $device failed: $(grep -m1 -i error "$work/generate-$label.log")"
    grep -E '^(chosen|generated):' "$work/generate-$label.log" | tee "$facts/generate_$label.txt"
  done
  cmp -s <(grep '^generated:' "$work/generate-cuda.log") <(grep '^generated:' "$work/generate-cpu.log") \
    && fact generate_cuda_equals_cpu yes || fact generate_cuda_equals_cpu no
fi

# -- 5. SmolVLM-256M-shaped train steps ------------------------------------------------------
say "SmolVLM-256M shapes (random weights): train steps at 1, 4, 8 pairs, fp32 and bf16"
declare -A artifacts=()
if [[ -n "$export_pid" ]]; then
  wait "$export_pid"
  grep -v WARNING "$work/export-fp32.log" | tail -3
  fp32_dir="$bench/artifacts-$(basename "$(dirname "$model_config")")"   # bench-export names it after the model folder
  if [[ -n "$fp32_dir" && -f "$fp32_dir/manifest.json" ]]; then
    artifacts[fp32]="$fp32_dir"
  else
    problem "the fp32 256M export failed: $(grep -v WARNING "$work/export-fp32.log" | tail -2 | tr '\n' ' ')"
  fi
  for variant in bf16 bf16-attention bf16-vision bf16-layers; do
    if [[ -f "$bench/artifacts-$variant/manifest.json" ]]; then
      artifacts[$variant]="$bench/artifacts-$variant"
    else
      reason=$(grep -v WARNING "$work/export-$variant.log" | tail -2 | tr '\n' ' ')
      problem "export-artifacts ($variant) failed: $reason"; fact "export_$variant" "failed: $reason"
    fi
  done
fi
# per precision: ORT at 1, 4, 8 pairs, then the PyTorch + PEFT baseline at the same shapes (each pair of
# figures complete before the next precision starts, should the time budget run out)
if (( gpu )) && [[ -n "$python" ]] && ! "$python" -c "import torch, transformers, peft" 2>/dev/null; then
  problem "the PyTorch baseline needs torch, transformers and peft in $python"; python=""
fi
# the 256M fp32 train step on the CPU too (B=1, one timed step), in the background: CUDA vs CPU on the same
# inputs and weights (bench-export's first-step outputs)
cpu_step_pid=""
if [[ -n "${artifacts[fp32]:-}" ]] && room cpu_fp32_b1 60; then
  timeout 240 "$java" "${java_args[@]}" -jar "$jar" bench-export --artifacts "${artifacts[fp32]}" --device cpu --threads 6 \
    --pairs 1 --layouts shared_prefix --steps 1 > "$work/cpu_fp32_b1.log" 2>&1 &
  cpu_step_pid=$!
fi
# bf16 first: the benchmark's goal is bf16 at 4 pairs per step
# the baseline and its runner beside this script (tools/ of the checkout that travels with each call)
baseline="$(dirname "${BASH_SOURCE[0]}")/torch_dpo_baseline.py"
# bf16-unshared: the bf16 export with each ORT session loading its own copy of the weights
# (SMOLDPO_SHARE_WEIGHTS=0), the memory that sharing them saves
[[ -n "${artifacts[bf16]:-}" ]] && artifacts[bf16-unshared]="${artifacts[bf16]}"
share_failed=0
# one timed bench-export run of $precision at $pairs pairs, into $ort_log; $1: SMOLDPO_SHARE_WEIGHTS
ort_steps() {
  SMOLDPO_ORT_LOG=warning SMOLDPO_SHARE_WEIGHTS=$1 with_gpu_peak "ort_${precision}_b${pairs}_peak_mib" timeout 90 "$java" "${java_args[@]}" -jar "$jar" bench-export \
    --artifacts "${artifacts[$precision]}" --device "$dev" --pairs "$pairs" --layouts shared_prefix --steps 3 > "$ort_log" 2>&1
}
for precision in bf16 fp32 bf16-attention bf16-vision bf16-layers bf16-unshared; do
  if [[ -n "${artifacts[$precision]:-}" ]]; then
    pair_counts="${GPU_CHECK_PAIRS:-1 4 8}"
    [[ "$precision" == bf16-* ]] && pair_counts="${GPU_CHECK_RECOMPUTE_PAIRS:-4 8}"
    share=$(( 1 - share_failed ))
    [[ "$precision" == bf16-unshared ]] && { pair_counts=4; share=0; }
    for pairs in $pair_counts; do
      room "ort_${precision}_b$pairs" 45 || continue
      ort_log="$work/ort_${precision}_b$pairs.log"
      ort_steps "$share"; rc=$?
      if (( rc != 0 && share )) && grep -q 'sharing the weights between sessions failed' "$ort_log"; then
        # the device weights are new: when sharing them fails, the figures still come, without it
        problem "sharing the weights failed ($precision B=$pairs): $(grep -m1 'sharing the weights' "$ort_log"); the rest runs with SMOLDPO_SHARE_WEIGHTS=0"
        cp "$ort_log" "$work/share-failure.log"
        share_failed=1; share=0
        ort_steps 0; rc=$?
      fi
      (( rc == 0 )) || problem "ORT train steps $precision B=$pairs failed: $(grep -m1 -i error "$ort_log")"
      line=$(grep -m1 'pairs/s' "$work/ort_${precision}_b$pairs.log")
      echo "  ORT $precision B=$pairs: $line; peak GPU memory $(cat "$facts/ort_${precision}_b${pairs}_peak_mib") MiB above idle"
      fact "ort_${precision}_b$pairs" "$line"
      fact "ort_${precision}_b${pairs}_first_step" "$(grep -m1 'first-step outputs' "$work/ort_${precision}_b$pairs.log")"
    done
  fi
  # -- 6. the PyTorch + PEFT baseline, this precision: taken from a background run started before the
  # pack arrived (TORCH_BASELINE_DIR, see gpu-baseline.sh), else run here
  if [[ "$precision" == bf16-* || -f "$torch_bg/started" ]]; then
    continue
  elif (( gpu )) && [[ -n "$python" && -n "$unpacked" ]] && room "torch_$precision" 75; then
    say "PyTorch + PEFT baseline, $precision"
    bash "$(dirname "$baseline")/gpu-baseline.sh" "$model_config" "$work/torch-$precision" "$precision" \
      || problem "the PyTorch baseline ($precision) failed: $(grep -m1 -i -E 'error|failed' "$work/torch-$precision/baseline.log")"
    cp "$work/torch-$precision"/torch_* "$facts/" 2>/dev/null
    cp "$work/torch-$precision/baseline.log" "$work/baseline-$precision.log" 2>/dev/null
    grep -E '^torch |FAILED' "$work/torch-$precision/baseline.log" | tail -4
  fi
done

# ORT warns, and copies, when a shared initializer is not on the device it planned for (session_state_utils.cc)
unshared=$(grep -l 'Cannot use user supplied initializer' "$work"/ort_*.log "$work"/demo-cuda.log 2>/dev/null || true)
if [[ -n "$unshared" ]]; then
  problem "ORT did not use the shared weights in: $(basename -a $unshared | tr '\n' ' ')"
fi

if [[ -n "$cpu_step_pid" ]]; then
  wait "$cpu_step_pid" || problem "the CPU 256M train step failed: $(grep -m1 -i error "$work/cpu_fp32_b1.log")"
  fact cpu_fp32_b1 "$(grep -m1 'pairs/s' "$work/cpu_fp32_b1.log")"
  fact cpu_fp32_b1_first_step "$(grep -m1 'first-step outputs' "$work/cpu_fp32_b1.log")"
fi

if [[ -f "$torch_bg/started" ]]; then
  cp "$torch_bg"/torch_* "$facts/" 2>/dev/null
  cp "$torch_bg/baseline.log" "$work/baseline-background.log" 2>/dev/null
  grep -E '^torch |FAILED|Error' "$torch_bg/baseline.log" | tail -12
  [[ "$(cat "$torch_bg/done" 2>/dev/null)" == 0 ]] || problem "the background PyTorch baseline failed (baseline-background.log)"
fi

# -- results ---------------------------------------------------------------------------------
say "results"
# first-step log-probs: bf16 and CPU against CUDA fp32 (same synthetic pairs, same random weights)
python3 - "$facts" <<'PY' | tee "$facts/first_step_comparison.txt"
import os, re, sys
facts = sys.argv[1]
def outputs(name):
    try:
        line = open(os.path.join(facts, name)).read()
    except OSError:
        return None
    found = dict(re.findall(r"(loss|chosen_logps|rejected_logps) \[([^\]]*)\]", line))
    return {k: [float(x) for x in v.split(",")] for k, v in found.items()} if found else None
def compare(label, a, b):
    if not a or not b:
        print(f"{label}: not both available"); return
    d = max(abs(x - y) for k in ("chosen_logps", "rejected_logps") for x, y in zip(a[k], b[k]))
    print(f"{label}: max |delta summed log-prob| {d:.5f}; loss {a['loss'][0]:.6f} vs {b['loss'][0]:.6f}")
for pairs in (1, 4, 8):
    compare(f"bf16 vs fp32 on CUDA, B={pairs}", outputs(f"ort_bf16_b{pairs}_first_step"), outputs(f"ort_fp32_b{pairs}_first_step"))
compare("CUDA fp32 vs CPU fp32, B=1", outputs("ort_fp32_b1_first_step"), outputs("cpu_fp32_b1_first_step"))
for variant in ("attention", "vision", "layers"):  # recomputation changes no forward value
    compare(f"bf16 recompute {variant} vs none, B=4", outputs(f"ort_bf16-{variant}_b4_first_step"), outputs("ort_bf16_b4_first_step"))
PY
# the benchmark goal: ORT bf16 at B=4 against PyTorch + PEFT bf16 at B=4 (pairs/s, nvidia-smi peak above idle)
python3 - "$facts" <<'PY' | tee "$facts/goal_bf16_b4.txt"
import json, os, re, sys
facts = sys.argv[1]
def read(name):
    try:
        return open(os.path.join(facts, name)).read()
    except OSError:
        return None
torch_json, torch_mem = read("torch_bf16_b4.json"), read("torch_bf16_b4_peak_mib")
for variant, label in (("bf16", "recompute none"), ("bf16-attention", "recompute attention"),
                       ("bf16-vision", "recompute vision"), ("bf16-layers", "recompute layers"),
                       ("bf16-unshared", "recompute none, weights not shared")):
    ort_line, ort_mem = read("ort_%s_b4" % variant), read("ort_%s_b4_peak_mib" % variant)
    try:
        ort_rate = float(re.search(r"([0-9.]+) pairs/s", ort_line).group(1))
        torch_rate = json.loads(torch_json)["results"][0]["pairs_per_second"]
        print("bf16 B=4, %s: ORT %.3f pairs/s, PyTorch+PEFT %.3f pairs/s: %.2fx (goal >= 2x); peak GPU memory ORT %s MiB, "
              "PyTorch %s MiB: %.2fx (goal <= 0.6x)" % (label, ort_rate, torch_rate, ort_rate / torch_rate, ort_mem,
                                                        torch_mem, int(ort_mem) / max(1, int(torch_mem))))
    except Exception as e:
        print("bf16 B=4 goal, %s: figures incomplete (%s: %s)" % (label, type(e).__name__, e))
PY
# -- 7. grpo on CUDA: 30 steps of the demo beside the same 30 on the CPU ---------------------------
# last, so that it never takes time from the memory-goal figures above; skipped when the budget is spent
# the training, KL-reference and sampling sessions on the GPU; their placement reported like fit's
say "grpo --device cuda (demo, 30 steps) beside --device cpu"
if [[ -n "$unpacked" ]] && (( cuda_ok )) && room grpo_demo 70; then
  grpo_args=(grpo --artifacts "$work/grpo-artifacts" --max-steps 30 --logging-steps 5 --eval-steps 30 --eval-samples 32)
  run_java export-artifacts --loss grpo --kl --out "$work/grpo-artifacts" > "$work/grpo-export.log" 2>&1 \
    || problem "grpo demo export failed: $(tail -2 "$work/grpo-export.log" | tr '\n' ' ')"
  timeout 70 "$java" "${java_args[@]}" -jar "$jar" "${grpo_args[@]}" --output-dir "$work/grpo-cpu" --device cpu --threads 8 \
    > "$work/grpo-cpu.log" 2>&1 &
  grpo_cpu_pid=$!
  start=$(date +%s)
  SMOLDPO_ORT_LOG=warning SMOLDPO_CUDA_PLACEMENT_CHECK=report timeout 70 "$java" "${java_args[@]}" -jar "$jar" "${grpo_args[@]}" \
    --output-dir "$work/grpo-cuda" --device "$dev" > "$work/grpo-cuda.log" 2>&1 \
    || problem "grpo --device cuda failed: $(grep -m1 -i error "$work/grpo-cuda.log")"
  fact grpo_cuda_seconds "$(( $(date +%s) - start ))"
  wait "$grpo_cpu_pid" || problem "the CPU grpo run failed: $(grep -m1 -i error "$work/grpo-cpu.log")"
  for label in cuda cpu; do
    grep -E '^step [0-9]+: (loss|greedy)|by step' "$work/grpo-$label.log" | tail -8 | tee "$facts/grpo_$label.txt"
  done
  grep '^cuda placement:' "$work/grpo-cuda.log" > "$facts/grpo_cuda_placement.txt"
  if grep -q '^cuda placement:.* [1-9][0-9]* compute)' "$work/grpo-cuda.log"; then
    grep -A3 '^cuda placement:.* [1-9][0-9]* compute)' "$work/grpo-cuda.log" | head -20
    problem "compute nodes ran on the CPU under grpo --device cuda (cuda placement lines above)"
  fi
  grep -q 'Cannot use user supplied initializer' "$work/grpo-cuda.log" \
    && problem "grpo: ORT did not use the shared weights: $(grep -m1 'Cannot use user supplied' "$work/grpo-cuda.log")"
fi

fact elapsed_seconds "$(elapsed)"
printf '%s\n' "${problems[@]}" > "$facts/problems.txt"
python3 - "$facts" "$results/gpu-check.json" <<'PY'
import json, os, sys
facts, out = sys.argv[1], sys.argv[2]
result = {}
for name in sorted(os.listdir(facts)):
    text = open(os.path.join(facts, name)).read()
    if name.endswith(".json"):
        result[name[:-5]] = json.loads(text)
    elif name.endswith(".txt"):
        result[name[:-4]] = [l for l in text.splitlines() if l]
    else:
        result[name] = int(text) if text.lstrip("-").isdigit() else text
json.dump(result, open(out, "w"), indent=1)
print("wrote", out)
PY
# every step's full log, for reading after the host has gone
(cd "$work" && tar czf "$results/gpu-check-logs.tgz" *.log facts 2>/dev/null)
if (( ${#problems[@]} )); then
  echo "gpu-check: FAILED after $(elapsed)s:"
  printf '  - %s\n' "${problems[@]}"
  exit 1
fi
echo "gpu-check: all steps passed in $(elapsed)s"
