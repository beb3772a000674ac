#!/usr/bin/env bash
# Training benchmark (prints figures): the demo `fit` in both layouts side by side — pairs/s,
# tokens/s, seconds by section (data, reference, trainStep, optimizerStep), peak RSS — then the
# SmolVLM-256M-shaped train step in both layouts at RLHF-V-like lengths (tools/bench-export.sh).
# Usage: tools/bench.sh [--steps N] [--skip-256m]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps=100
skip256=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --skip-256m) skip256=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
java --enable-preview -jar "$root/trainer.jar" export-artifacts --out "$work/artifacts" | tail -1
for layout in shared_prefix concatenated; do
  echo "== demo fit, layout $layout, $steps steps (reference log-probs: a fresh cache for each layout)"
  rm -f "$work/artifacts/reference_cache.duckdb"
  java --enable-preview -jar "$root/trainer.jar" fit --demo --artifacts "$work/artifacts" --output-dir "$work/$layout" \
    --layout "$layout" --max-steps "$steps" --eval-strategy no --eval-on-start false --save-strategy no \
    --precompute-ref-log-probs false 2>&1 | grep -E "^done|time by section"
done
if [[ $skip256 == 0 ]]; then
  "$root/tools/bench-export.sh" --steps 2
fi
