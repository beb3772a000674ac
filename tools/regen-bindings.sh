#!/usr/bin/env bash
# Regenerates the FFM bindings (bindings/src/main/java/dev/smoldpo/nativelib/ffi) from
# native/include/smoldpo.h with jextract. The committed sources follow jextract's layout, so
# regenerating replaces them with jextract's own output of the same API.
#   tools/regen-bindings.sh            (jextract on PATH)
#   JEXTRACT=/opt/jextract-22/bin/jextract tools/regen-bindings.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HEADER="$ROOT/native/include/smoldpo.h"
DEST="$ROOT/bindings/src/main/java/dev/smoldpo/nativelib/ffi"
PKG=dev.smoldpo.nativelib.ffi
JEXTRACT=${JEXTRACT:-jextract}

if ! command -v "$JEXTRACT" >/dev/null 2>&1; then
  cat >&2 <<MSG
regen-bindings: jextract is not installed (looked for '$JEXTRACT' on PATH; set JEXTRACT=/path/to/bin/jextract).
  jextract is not on Maven Central, Debian or npm; download a build for JDK 22+ from
  https://jdk.java.net/jextract/ and rerun. Nothing was changed: the committed bindings in
  ${DEST#$ROOT/} stay as they are.
MSG
  exit 2
fi

# Only our own declarations (not stdint/stddef): list them from the header.
args=()
for f in $(grep -oE 'SMOLDPO_API [^(]*\b(smoldpo_[a-z0-9_]+)\(' "$HEADER" | grep -oE 'smoldpo_[a-z0-9_]+\($' | tr -d '('); do
  args+=(--include-function "$f")
done
for s in $(grep -oE 'typedef struct smoldpo_[a-z0-9_]+' "$HEADER" | awk '{print $3}'); do
  args+=(--include-struct "$s" --include-typedef "$s")
done
for c in $(grep -oE '^#define SMOLDPO_[A-Z0-9_]+ [0-9]+' "$HEADER" | awk '{print $2}') \
         $(grep -oE '^\s+SMOLDPO_[A-Z0-9_]+ = [0-9]+' "$HEADER" | awk '{print $1}'); do
  args+=(--include-constant "$c")
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# No --library: the generated code looks symbols up with SymbolLookup.loaderLookup(), and
# dev.smoldpo.nativelib.NativeLibrary.load() (called by every wrapper) System.load()s the library.
"$JEXTRACT" --output "$OUT" --target-package "$PKG" --header-class-name smoldpo_h \
  -I "$ROOT/native/include" "${args[@]}" "$HEADER"

rm -rf "$DEST"
mkdir -p "$DEST"
cp "$OUT/${PKG//.//}/"*.java "$DEST/"
echo "regen-bindings: wrote $(ls "$DEST" | wc -l) files to ${DEST#$ROOT/}; now run ./mvnw -pl bindings verify"
