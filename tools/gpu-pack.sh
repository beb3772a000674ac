#!/usr/bin/env bash
# Prepares, on this (CPU) machine, everything the GPU check needs on a bare GPU host (no Java, no
# network, 64 MiB per upload), in gpu-pack/ (ignored by git), as parts that travel one per command:
#
#   jre/                      a jlink'ed Java 25 runtime (modules from jdeps --print-module-deps)
#   trainer.jar               the CPU build's jar without its CPU ONNX Runtime libraries (the classes
#                             of a -Port-gpu build are the same; only bytedeco's native libraries differ)
#   ort-gpu/                  ORT 1.28.0's CUDA build from org.bytedeco:onnxruntime:1.28.0-1.5.14:linux-x86_64-gpu:
#                             libonnxruntime.so.1, libonnxruntime_providers_shared.so, _cuda.so, used
#                             through SMOLDPO_ORT_LIBRARY (a folder with its providers, as the GPU jar extracts)
#   native/                   libsmoldpo.so (CUDA code for sm_80 and sm_90, checked here) and the ctest
#                             binary smoldpo_tests, with native/tests/goldens
#   SmolVLM-256M-Instruct/    config.json and the tokenizer/processor files (no weights)
#   gpu-check.sh, gpu-lib.sh, gpu-baseline.sh, torch_dpo_baseline.py (copies; the calls run the
#                             checkout's tools/, which travels with every call)
#
# all in one tar, xz -9, split into parts under the upload limit, each part in its own folder
# gpu-pack/part-NN/ with MANIFEST.sha256 beside it (and part-01 the model's config.json, for the
# PyTorch baseline that the first call starts in the background while the GPU is idle). Prints (and writes to
# gpu-pack/SEND.txt) the device-tool calls that send them. Options:
#   --part-mib N    part size in MiB (default: 60, less when the repository itself is large)
#   --no-build      use trainer.jar and bindings/target/native-build as they are
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/gpu-pack"
part_mib=""
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --part-mib) part_mib="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "gpu-pack: unknown option $1 (--part-mib N, --no-build)" >&2; exit 2 ;;
  esac
done

ort_native="org.bytedeco:onnxruntime:1.28.0-1.5.14:jar:linux-x86_64-gpu"
step() { printf '\n== %s\n' "$*"; }
fail() { echo "gpu-pack: $*" >&2; exit 1; }

# -- tools ------------------------------------------------------------------------------------
jdk=""
for candidate in "${SMOLDPO_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
  [[ -n "$candidate" && -x "$candidate/bin/jlink" && -f "$candidate/release" ]] || continue
  feature=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$candidate/release")
  if [[ "${feature:-0}" -ge 25 ]]; then jdk="$candidate"; break; fi
done
[[ -n "$jdk" ]] || fail "no JDK >= 25 with jlink found (SMOLDPO_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*)"
for tool in xz split sha256sum tar zip objcopy python3; do
  command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install xz-utils zip binutils python3)"
done
shared_models="${SMOLDPO_SHARED_MODELS:-$root/../shared/models}"
[[ -d "$shared_models/SmolVLM-256M-Instruct" ]] || shared_models=/work/shared/models
model_dir="$shared_models/SmolVLM-256M-Instruct"
[[ -f "$model_dir/config.json" ]] || fail "no SmolVLM-256M-Instruct/config.json under $shared_models (set SMOLDPO_SHARED_MODELS)"

# -- build ------------------------------------------------------------------------------------
if [[ $build == 1 ]]; then
  step "build trainer.jar (CPU classifier; CUDA native library with nvcc)"
  command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || fail "nvcc is needed for libsmoldpo.so's CUDA code"
  ./mvnw -B -ntp -q -DskipTests -Dsmoldpo.cuda=ON package
fi
[[ -f trainer.jar ]] || fail "trainer.jar is missing (run without --no-build)"
native_build=bindings/target/native-build
[[ -f $native_build/libsmoldpo.so && -x $native_build/smoldpo_tests && -x $native_build/smoldpo_bench ]] \
  || fail "$native_build lacks libsmoldpo.so, smoldpo_tests or smoldpo_bench"

stage="$(mktemp -d "${TMPDIR:-/tmp}/smoldpo-gpu-pack.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/ort-gpu" "$stage/native"

# -- libsmoldpo.so for Hopper -----------------------------------------------------------------
step "libsmoldpo.so: the jar's is this build's, and its fatbinary has sm_90 code"
# (a build of the trainer module alone takes the bindings jar from ~/.m2, which may be another build's)
jar_lib_sum=$(unzip -p trainer.jar native/linux-x86_64/libsmoldpo.so | sha256sum | cut -d' ' -f1)
[[ "$jar_lib_sum" == "$(sha256sum < $native_build/libsmoldpo.so | cut -d' ' -f1)" ]] \
  || fail "trainer.jar's libsmoldpo.so is not $native_build/libsmoldpo.so: rebuild both (run without --no-build)"
objcopy -O binary --only-section=.nv_fatbin $native_build/libsmoldpo.so "$stage/fatbin"
python3 - "$stage/fatbin" <<'PY'
import struct, sys
# A fatbinary is a header (magic 0xBA55ED50) and entries: kind 1 = PTX, 2 = ELF (SASS), and the sm_ number.
data = open(sys.argv[1], "rb").read()
found, pos = [], 0
while True:
    pos = data.find(struct.pack("<I", 0xBA55ED50), pos)
    if pos < 0:
        break
    header_size, fat_size = struct.unpack_from("<HQ", data, pos + 6)
    entry, end = pos + header_size, pos + header_size + fat_size
    while entry < end:
        kind, _, entry_header, size = struct.unpack_from("<HHIQ", data, entry)
        arch = struct.unpack_from("<I", data, entry + 28)[0]
        found.append(("PTX" if kind == 1 else "SASS", arch))
        entry += entry_header + size
    pos = end
print("  code objects:", ", ".join(f"{k} sm_{a}" for k, a in sorted(set(found))))
if ("SASS", 90) not in found:
    sys.exit("gpu-pack: libsmoldpo.so has no sm_90 machine code (SMOLDPO_CUDA_ARCHITECTURES must include 90)")
PY
rm "$stage/fatbin"
cp $native_build/libsmoldpo.so $native_build/smoldpo_tests $native_build/smoldpo_bench "$stage/native/"
mkdir -p "$stage/native/goldens" && cp -r native/tests/goldens/. "$stage/native/goldens/"
grep -o 'add_test(NAME [a-z_]* COMMAND smoldpo_tests [a-z]*' native/CMakeLists.txt \
  | awk '{print $2, $5}' | sed 's/NAME //' > "$stage/native/ctests.txt"

# -- the jar, without the CPU ORT libraries ---------------------------------------------------
step "trainer.jar without bytedeco's native libraries"
cp trainer.jar "$stage/trainer.jar"
# also the ORT Java jar's inference-only libonnxruntime.so (never loaded: its JNI library stays)
zip -q -d "$stage/trainer.jar" 'org/bytedeco/onnxruntime/*' 'org/bytedeco/cuda/*' \
  'ai/onnxruntime/native/linux-x64/libonnxruntime.so' >/dev/null || true
unzip -l "$stage/trainer.jar" | grep -q 'org/bytedeco/onnxruntime/.*\.so' && fail "could not strip ORT from the jar"
echo "  $(du -h "$stage/trainer.jar" | cut -f1) (from $(du -h trainer.jar | cut -f1))"

# -- ORT's CUDA build -------------------------------------------------------------------------
step "ONNX Runtime CUDA build ($ort_native)"
./mvnw -B -ntp -q dependency:copy -Dartifact="$ort_native" -DoutputDirectory="$stage/dl" -Dmdep.overWriteIfNewer=true
unzip -q -j -o "$stage/dl"/onnxruntime-*-linux-x86_64-gpu.jar -d "$stage/ort-gpu" \
  'org/bytedeco/onnxruntime/linux-x86_64-gpu/libonnxruntime.so.1' \
  'org/bytedeco/onnxruntime/linux-x86_64-gpu/libonnxruntime_providers_shared.so' \
  'org/bytedeco/onnxruntime/linux-x86_64-gpu/libonnxruntime_providers_cuda.so'
rm -rf "$stage/dl"
ls -l "$stage/ort-gpu" | tail -n +2 | awk '{printf "  %-40s %6.1f MiB\n", $9, $5/1048576}'

# -- Java runtime -----------------------------------------------------------------------------
step "jlink'ed Java runtime ($jdk)"
modules=$("$jdk/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 25 "$stage/trainer.jar" | tail -1)
# zipfs: reading jars as file systems (resources); not visible to jdeps
modules="$modules,jdk.zipfs"
echo "  modules: $modules"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress zip-9 \
  --output "$stage/jre"
"$stage/jre/bin/java" -version 2>&1 | head -1 | sed 's/^/  /'
echo "  $(du -sh "$stage/jre" | cut -f1)"

# -- model files, scripts ---------------------------------------------------------------------
step "SmolVLM-256M-Instruct config and processing files (no weights), scripts"
mkdir -p "$stage/SmolVLM-256M-Instruct"
for f in config.json generation_config.json tokenizer.json tokenizer_config.json special_tokens_map.json \
         added_tokens.json chat_template.json preprocessor_config.json processor_config.json; do
  [[ -f "$model_dir/$f" ]] && cp "$model_dir/$f" "$stage/SmolVLM-256M-Instruct/"
done
cp tools/gpu-check.sh tools/gpu-lib.sh tools/gpu-baseline.sh tools/torch_dpo_baseline.py "$stage/"
git rev-parse HEAD > "$stage/COMMIT" 2>/dev/null || echo unknown > "$stage/COMMIT"
(cd "$stage" && find . -type f ! -name FILES.sha256 -print0 | sort -z | xargs -0 sha256sum > FILES.sha256)

# -- compress and split -----------------------------------------------------------------------
step "tar | xz -9, split"
payload="$stage/payload.tar.xz"
tar -C "$stage" --exclude=./payload.tar.xz -cf - . | xz -9 -T2 > "$payload"
echo "  payload $(du -m "$payload" | cut -f1) MiB (xz -9) from $(du -sm --exclude=payload.tar.xz "$stage" | cut -f1) MiB"

# What travels with each command besides the part: the repository's tracked and untracked-not-ignored files.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
tree_mib=$(( (tree_bytes + 1048575) / 1048576 ))
if [[ -z "$part_mib" ]]; then
  part_mib=$(( 64 - tree_mib - 2 ))   # 2 MiB for the manifest, the script and rounding
  (( part_mib > 60 )) && part_mib=60
fi
(( part_mib >= 8 )) || fail "the repository's working tree is $tree_mib MiB: too little room left under 64 MiB per upload"
rm -rf "$out" && mkdir -p "$out"
split -b "${part_mib}M" -a 2 --numeric-suffixes=1 "$payload" "$stage/payload.tar.xz."
parts=("$stage"/payload.tar.xz.[0-9][0-9])
{
  echo "# sha256 of the joined payload and of each part; gpu-check.sh checks them"
  (cd "$stage" && sha256sum payload.tar.xz payload.tar.xz.[0-9][0-9])
} > "$out/MANIFEST.sha256"
for p in "${parts[@]}"; do
  n="${p##*.}"
  mkdir -p "$out/part-$n"
  mv "$p" "$out/part-$n/"
  cp "$out/MANIFEST.sha256" "$out/part-$n/"
done
rm "$out/MANIFEST.sha256"
cp "$model_dir/config.json" "$out/part-01/config.json"

step "parts (each travels with the $tree_mib MiB working tree; limit 64 MiB per command)"
for d in "$out"/part-*; do
  size=$(du -sb "$d" | cut -f1)
  awk -v n="$(basename "$d")" -v s="$size" -v t="$tree_bytes" \
    'BEGIN { printf "  %s  %6.2f MiB (with the tree %.1f MiB)\n", n, s / 1048576, (s + t) / 1048576 }'
  (( size + tree_bytes < 64 * 1048576 )) || fail "$(basename "$d") with the tree exceeds 64 MiB"
done

# -- how to send ------------------------------------------------------------------------------
count=${#parts[@]}
{
  echo "Send the parts in back-to-back device calls (the host goes back after ~30 s idle), one part each,"
  echo "then the check runs in the call that brings the last part. gpu-pack/ must be in the checkout the"
  echo "session sends; each call names its part folder in carry."
  echo "The first call also starts the PyTorch + PEFT baseline in the background (setsid: it outlives the"
  echo "call) while the GPU is otherwise idle; gpu-check.sh waits for it before timing ORT."
  i=0
  for d in "$out"/part-*; do
    i=$((i + 1)); name=$(basename "$d")
    copy="mkdir -p /tmp/smoldpo-gpu && cp gpu-pack/$name/payload.tar.xz.* gpu-pack/$name/MANIFEST.sha256 /tmp/smoldpo-gpu/"
    if [[ $i -eq 1 && $count -gt 1 ]]; then
      # run from copies outside the checkout, which the next calls replace
      start="cp gpu-pack/$name/config.json tools/gpu-lib.sh tools/gpu-baseline.sh tools/torch_dpo_baseline.py /tmp/smoldpo-gpu/ && (setsid nohup bash /tmp/smoldpo-gpu/gpu-baseline.sh /tmp/smoldpo-gpu/config.json /tmp/smoldpo-gpu/torch-baseline >/dev/null 2>&1 &) && sleep 1"
      echo "  $i/$count: run(carry=[\"gpu-pack/$name\"], timeout_s=120, command='$copy && $start && nvidia-smi -L && ls -l /tmp/smoldpo-gpu')"
    elif [[ $i -lt $count ]]; then
      echo "  $i/$count: run(carry=[\"gpu-pack/$name\"], timeout_s=120, command='$copy && ls -l /tmp/smoldpo-gpu && tail -3 /tmp/smoldpo-gpu/torch-baseline/baseline.log')"
    else
      echo "  $i/$count: run(carry=[\"gpu-pack/$name\"], timeout_s=600, command='$copy && bash tools/gpu-check.sh /tmp/smoldpo-gpu')"
    fi
  done
  echo "The results come back as \$OUT/gpu-check.json and \$OUT/gpu-check.log."
} | tee "$out/SEND.txt"
