#!/usr/bin/env bash
# Mixed-precision accuracy on the CPU (prints figures): completion log-probs of the float32 reference
# graph against the bf16-weight twin (the bfloat16 weights of a bf16 export, float32 arithmetic) and
# the fp16 graph, with the first-order bound for bfloat16 weight rounding they must stay within. For
# the demo model and, when shared/models is there (or --config is given), SmolVLM-256M-Instruct's
# shapes with random float32 weights (about 2 minutes and 2.5 GB of temporary files). Real bfloat16
# arithmetic needs a GPU. Extra options go to both runs (e.g. --pairs 4).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$root/trainer.jar" ]] || (cd "$root" && ./mvnw -q -DskipTests package)
jar=(java --enable-preview -Xmx6g -jar "$root/trainer.jar")
"${jar[@]}" bench-precision "$@"
real="$root/../shared/models/SmolVLM-256M-Instruct/config.json"
if [[ -f "$real" ]]; then
  echo
  "${jar[@]}" bench-precision --config "$real" "$@"
fi
