#!/usr/bin/env bash
# Benchmark: SmolVLM image preprocessing, native (C / CUDA) against pure-Java baselines, side by side.
#   tools/bench-preprocess.sh [--images N] [--iterations K] [--threads T] [--width W] [--height H]
# Builds the bindings module when its classes are missing (SMOLDPO_BENCH_REBUILD=1 forces it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

find_java() {
  for j in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$j" ] && [ -x "$j/bin/java" ] || continue
    v=$("$j/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')
    if [ -n "$v" ] && [ "${v%%.*}" -ge 22 ] 2>/dev/null; then echo "$j"; return 0; fi
  done
  return 1
}
JDK=$(find_java) || { echo "bench-preprocess: needs a JDK >= 22 (FFM); set JAVA_HOME" >&2; exit 1; }

CLASSES="$ROOT/bindings/target/classes"
if [ "${SMOLDPO_BENCH_REBUILD:-0}" = 1 ] || [ ! -f "$CLASSES/dev/smoldpo/nativelib/bench/PreprocessBenchmark.class" ] \
   || [ ! -f "$CLASSES/native/linux-x86_64/libsmoldpo.so" ]; then
  JAVA_HOME="$JDK" ./mvnw -q -pl bindings -DskipTests package
fi
exec "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -Xmx8g -cp "$CLASSES" \
  dev.smoldpo.nativelib.bench.PreprocessBenchmark "$@"
