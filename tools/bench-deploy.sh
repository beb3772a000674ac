#!/usr/bin/env bash
# Deployment dtypes, measured (prints a table; figures, not tests): for each of fp32, fp16, q8, q4 and
# q4f16, the ONNX files' sizes, CPU prefill and decode tokens/s, peak RSS, greedy-token agreement with
# fp32 and mean/max |Δ log-prob| of the chosen answers; on the demo after fit also the held-out choice
# accuracy (the six colour answers, as generate --choices scores them) and the DPO reward accuracy
# (rewards against the untrained base model). Each dtype runs in its own JVM, so its peak RSS is its own.
#
#   tools/bench-deploy.sh [--work DIR] [--threads N] [--prompts N] [--prompts-256m N] [--skip-256m]
#
# The demo part fits the demo (about a minute) and exports it with block sizes 32 (the default) and 16;
# the 256M part, when shared/models holds SmolVLM-256M-Instruct's config, uses random float32 weights
# at its shapes (about 3 GB of files under --work, several minutes on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d -t smoldpo-bench-deploy-XXXX)"
threads=0
prompts=8
prompts256=3
skip256=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --prompts) prompts="$2"; shift 2 ;;
    --prompts-256m) prompts256="$2"; shift 2 ;;
    --skip-256m) skip256=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
jar=("$java_bin" --enable-preview -Xmx6g -jar "$root/trainer.jar")
dtypes=(fp32 fp16 q8 q4 q4f16)
results="$work/results"
mkdir -p "$results"

# ---- the demo after fit
run="$work/demo-run"
if [[ ! -f "$run/train_config.json" ]]; then
  "${jar[@]}" fit --output-dir "$run" --eval-on-start false > "$work/demo-fit.log"
fi
choices="It is red.|It is green.|It is blue.|It is yellow.|It is purple.|It is orange."
for block in 32 16; do
  out="$work/demo-export-b$block"
  # the untrained base model (float32): the reference of the DPO rewards
  "${jar[@]}" bench-deploy --run "$run" --base --label "demo, block $block" --choices "$choices" --prompts "$prompts" \
    --threads "$threads" --out "$results/demo-b$block-base.json"
  "${jar[@]}" export --run "$run" --format onnx --dtype "$(IFS=,; echo "${dtypes[*]}")" --block-size "$block" --out "$out" > /dev/null
  for d in "${dtypes[@]}"; do
    "${jar[@]}" bench-deploy --run "$run" --model "$out/onnx" --dtype "$d" --label "demo, block $block" --choices "$choices" \
      --prompts "$prompts" --threads "$threads" --out "$results/demo-b$block-$d.json"
  done
done

# ---- SmolVLM-256M's shapes, random weights
real="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
if [[ $skip256 == 0 && -f "$real" ]]; then
  "${jar[@]}" bench-deploy --export-random "$real" --work-dir "$work/256m" > /dev/null
  for d in "${dtypes[@]}"; do
    "${jar[@]}" bench-deploy --model "$work/256m/deploy" --dtype "$d" --label "256M random" --prompts "$prompts256" \
      --new-tokens 8 --threads "$threads" --out "$results/256m-$d.json"
  done
fi

"${jar[@]}" bench-deploy --summarize "$results"
echo "(results: $results)"
