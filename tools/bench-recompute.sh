#!/usr/bin/env bash
# Activation recompute benchmark (prints figures): SmolVLM-256M-shaped artifacts (random weights; needs
# ../shared/models/SmolVLM-256M-Instruct/config.json or --config FILE) exported with --recompute none,
# attention, vision and layers, then for each a CPU train step (one pair, one 512 tile, ~100 + 2 x 150 tokens):
#   - memory: a run with MALLOC_MMAP_THRESHOLD_=131072, so that glibc hands every freed block above
#     128 KiB back to the system; bench-export then prints the step's own peak (peak RSS minus the RSS
#     between steps, when the activations are freed and the weights resident). That setting makes every
#     large allocation fault in fresh pages, so these runs are slow and are not timed;
#   - time: ROUNDS (default 2) rounds of plain runs, the three settings interleaved in each round, median
#     of --steps (default 5) timed steps after two warm-ups.
# Usage: tools/bench-recompute.sh [--config FILE] [--rounds N] [--steps N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
rounds=2
steps=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$config" ]] || { echo "no SmolVLM config at $config: pass --config FILE" >&2; exit 2; }
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
jar=(java --enable-preview -Xmx6g -jar "$root/trainer.jar")
settings=(none attention vision layers)
for r in "${settings[@]}"; do
  "${jar[@]}" bench-export --config "$config" --export-only --export-to "$work/$r" --recompute "$r" 2>&1 \
    | grep -E "^\[.*nodes:" | sed "s/^/recompute $r: /"
done
step() { "${jar[@]}" bench-export --artifacts "$work/$1"/artifacts-* --layouts shared_prefix --threads 2 --pairs 1 "${@:2}" 2>&1 \
  | grep "pairs/s" | sed -E 's/^\[[^]]*\] +//'; }
echo "== memory (MALLOC_MMAP_THRESHOLD_=131072; not timed)"
for r in "${settings[@]}"; do
  echo "recompute $r: $(MALLOC_MMAP_THRESHOLD_=131072 step "$r" --steps 1 | grep -oE 'peak RSS.*')"
done
echo "== time ($rounds rounds, the settings interleaved)"
for round in $(seq 1 "$rounds"); do
  for r in "${settings[@]}"; do
    echo "round $round, recompute $r: $(step "$r" --steps "$steps" | grep -oE 'first step.*tokens/s')"
  done
done
