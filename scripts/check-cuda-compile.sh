#!/usr/bin/env bash
# Compiles (no link, no run) every native source with the CUDA code path switched on, against the headers of a CUDA
# LibTorch 2.x and the CUDA toolkit: proves the GPU path builds on a machine that has no GPU.
# Usage: scripts/check-cuda-compile.sh [path/to/torch-2.x-cuda.whl | path/to/libtorch]
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-}"
if [ -z "$src" ]; then
  src=$(find /opt -maxdepth 3 -name 'torch-2*.whl' 2>/dev/null | grep -v '+cpu' | head -n 1 || true)
fi
if [ -z "$src" ]; then echo "check-cuda-compile: skipped: no CUDA LibTorch wheel found under /opt"; exit 0; fi
cuda_inc=""
for d in "${CUDA_HOME:-}" /usr/local/cuda /usr/local/cuda-13.0 /usr/lib/cuda; do
  if [ -n "$d" ] && [ -f "$d/include/cuda_runtime_api.h" ]; then cuda_inc="$d/include"; break; fi
done
if [ -z "$cuda_inc" ]; then echo "check-cuda-compile: skipped: no CUDA toolkit headers (cuda_runtime_api.h)"; exit 0; fi

if [ -f "$src" ]; then
  root=.libtorch/cuda2
  if [ ! -f "$root/torch/include/torch/torch.h" ]; then
    mkdir -p "$root"
    unzip -q -o "$src" 'torch/include/*' -d "$root"
  fi
  torch="$root/torch"
else
  torch="$src"
fi
grep -q 'define USE_CUDA\|C10_CUDA' -r "$torch/include/c10/cuda/impl/cuda_cmake_macros.h" 2>/dev/null \
  || { echo "check-cuda-compile: $torch has no CUDA headers (c10/cuda)"; exit 1; }

napi=$(node -p "require('node-api-headers').include_dir")
addon=$(node -p "require('node-addon-api').include_dir")
flags=(-std=c++20 -fsyntax-only -fopenmp -DPAPREC_WITH_CUDA=1 -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DNODE_ADDON_API_CPP_EXCEPTIONS -I native -I "$torch/include" -I "$torch/include/torch/csrc/api/include"
  -I "$cuda_inc" -I "$napi" -I "$addon")
echo "check-cuda-compile: $(ls native/**/*.cc native/*.cc 2>/dev/null | wc -l) sources against $torch (CUDA headers $cuda_inc)"
shopt -s globstar
printf '%s\n' native/**/*.cc | xargs -P "${PAPREC_BUILD_JOBS:-2}" -I{} sh -c 'g++ "$@" {} && echo "  ok {}"' _ "${flags[@]}"
echo "check-cuda-compile: the CUDA code path compiles"
