#!/usr/bin/env bash
# Backward-pass stash benchmark (prints figures, runs no session): the bytes a train step keeps from its
# forward pass for its backward pass, per --recompute setting, in bf16 and fp32, for SmolVLM-256M-Instruct's
# shapes with random weights when shared/models is there (or --config is given), else the demo model.
# One pair per step by default; extra options go to bench-stash (e.g. --pairs 4 --layout concatenated).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
config=()
real="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
[[ -f "$real" ]] && config=(--config "$real")
for precision in bf16 fp32; do
  java --enable-preview -Xmx6g -jar "$root/trainer.jar" bench-stash "${config[@]}" --precision "$precision" "$@"
done
