#!/usr/bin/env bash
# Builds ONNX Runtime training artifacts: a thin shell over `trainer.jar export-artifacts`.
# Builds trainer.jar first when it is missing. Works when the default java is 17: the jar finds a
# JDK >= 22 by itself. Run with --help for the options.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/trainer.jar"
if [[ ! -f "$jar" ]]; then
  echo "trainer.jar not found: building it (./mvnw -q -DskipTests package)" >&2
  (cd "$root" && ./mvnw -q -DskipTests package)
fi
exec java --enable-preview -jar "$jar" export-artifacts "$@"
