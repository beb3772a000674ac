#!/usr/bin/env bash
# Regenerates trainer/src/test/resources/ort-1.28-cuda-kernels.tsv: ONNX Runtime's CUDA kernels
# (op, domain, version range, type constraints), which CudaKernelCoverageTest checks every node of
# our training, eval, optimizer, reference and deployment graphs against. Not part of the build:
# run it when the ORT version changes, and commit the table with the change.
#
# usage: tools/extract-cuda-kernels.sh ONNXRUNTIME_CHECKOUT [OUT_TSV]
#   ONNXRUNTIME_CHECKOUT  a microsoft/onnxruntime tree at the release (git checkout v1.28.0); it needs
#                         docs/OperatorKernels.md, orttraining/orttraining/training_ops/cuda/ and
#                         orttraining/orttraining/core/graph/training_op_defs.cc. When it is not a git
#                         checkout, set ORT_SOURCE to say which commit it is.
#
# The CUDA provider library of the release we run (libonnxruntime_providers_cuda.so from
# org.bytedeco:onnxruntime:<ort.native.version>:linux-x86_64-gpu, fetched into ~/.m2 when missing)
# is read too: every row must name a kernel that library defines, so a table written from sources
# of another version fails here rather than in the test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -lt 1 || $# -gt 2 ]]; then
  sed -n '2,17p' "$0" >&2
  exit 2
fi
ort="$(cd "$1" && pwd)"
out="${2:-$root/trainer/src/test/resources/ort-1.28-cuda-kernels.tsv}"

native_version="$(sed -n 's:.*<ort.native.version>\(.*\)</ort.native.version>.*:\1:p' "$root/pom.xml")"
coords="org.bytedeco:onnxruntime:$native_version:jar:linux-x86_64-gpu"
jar="${M2_REPO:-$HOME/.m2/repository}/org/bytedeco/onnxruntime/$native_version/onnxruntime-$native_version-linux-x86_64-gpu.jar"
if [[ ! -f "$jar" ]]; then
  echo "fetching $coords (~165 MB)" >&2
  (cd "$root" && ./mvnw -B -ntp -q dependency:get -Dartifact="$coords" -Dtransitive=false)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
libs="org/bytedeco/onnxruntime/linux-x86_64-gpu"
unzip -q -o "$jar" "$libs/libonnxruntime_providers_cuda.so" "$libs/libonnxruntime.so.1" -d "$tmp"
build_commit="$(grep -a -o -m1 'git-commit-id=[0-9a-f]*' "$tmp/$libs/libonnxruntime.so.1" | head -1)"

if git -C "$ort" rev-parse HEAD >/dev/null 2>&1; then
  source_desc="$(git -C "$ort" log -1 --format='%H (%cs, %s)')"
else
  source_desc="${ORT_SOURCE:?$ort is not a git checkout: set ORT_SOURCE to the commit it was taken from}"
fi

note="Binary: $coords (its libonnxruntime.so.1 reports $build_commit); every row names a kernel its libonnxruntime_providers_cuda.so defines.
Sources: microsoft/onnxruntime at $source_desc:
  docs/OperatorKernels.md (CUDAExecutionProvider section), orttraining/orttraining/training_ops/cuda/**.cc
  (kernels registered in cuda_training_kernels.cc) and orttraining/orttraining/core/graph/training_op_defs.cc."

# The extractor is a multi-file source program: it needs JDK >= 22 (JAVA_HOME, else one under /usr/lib/jvm).
java=""
for candidate in "${JAVA_HOME:-/nonexistent}/bin/java" /usr/lib/jvm/*/bin/java; do
  if [[ -x "$candidate" ]]; then
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "${major:-0}" =~ ^[0-9]+$ && "$major" -ge 22 ]]; then java="$candidate"; break; fi
  fi
done
[[ -n "$java" ]] || { echo "no JDK >= 22 found (set JAVA_HOME)" >&2; exit 1; }
"$java" "$root/tools/cuda-kernels/ExtractCudaKernels.java" "$ort" "$tmp/$libs/libonnxruntime_providers_cuda.so" "$out" "$note"
