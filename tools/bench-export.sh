#!/usr/bin/env bash
# SmolVLM export and CPU train-step benchmark (prints figures): export time, peak RSS and node
# counts, then train steps in both layouts, each export timed in a fresh process so its peak RSS
# is training's alone. For the demo model and, when shared/models is there (or --config is given),
# for SmolVLM-256M-Instruct's shapes with random weights: one pair, one 512 tile, a ~100-token
# question, ~150-token answers. Extra options go to the timing runs (e.g. --steps 5 --layouts shared_prefix).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
config=()
real="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
[[ -f "$real" ]] && config=(--config "$real")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
jar=(java --enable-preview -Xmx6g -jar "$root/trainer.jar")
"${jar[@]}" bench-export "${config[@]}" --export-only --export-to "$work"
for artifacts in "$work"/artifacts-*; do
  echo
  "${jar[@]}" bench-export --artifacts "$artifacts" "$@"
done
