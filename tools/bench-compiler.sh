#!/usr/bin/env bash
# Compiler benchmark: artifact build time and peak heap for a generated graph of > 10,000 nodes,
# the generated graph's train step in ORT, and the toy model's train-step time. Prints figures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
exec java --enable-preview -jar "$root/trainer.jar" bench-compiler "$@"
