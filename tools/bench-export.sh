#!/usr/bin/env bash
# SmolVLM export and CPU train-step benchmark: export time, peak RSS and node counts, then train
# steps in both layouts, for the demo model and, when shared/models is there (or --config is
# given), for SmolVLM-256M-Instruct's shapes with random weights. Prints figures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
args=("$@")
real="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
if [[ " ${args[*]-} " != *" --config"* && -f "$real" ]]; then
  args+=(--config "$real")
fi
exec java --enable-preview -Xmx6g -jar "$root/trainer.jar" bench-export "${args[@]}"
