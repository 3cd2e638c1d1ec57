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

# The NCCL process group (native/dist/group.cc) needs nccl.h, from the CUDA wheel's companion nvidia-nccl wheel, and
# gloo's headers (Debian's libgloo-dev): without either, that one path is left out of the check, and said so.
dist=()
nccl_inc=""
for d in "${NCCL_INCLUDE_DIR:-}" "$cuda_inc"; do
  if [ -n "$d" ] && [ -f "$d/nccl.h" ]; then nccl_inc="$d"; break; fi
done
if [ -z "$nccl_inc" ]; then
  nccl_whl=$(find /opt -maxdepth 3 -name 'nvidia_nccl*.whl' 2>/dev/null | head -n 1 || true)
  if [ -n "$nccl_whl" ]; then
    if [ ! -f .libtorch/nccl/nvidia/nccl/include/nccl.h ]; then
      mkdir -p .libtorch/nccl
      unzip -q -o "$nccl_whl" 'nvidia/nccl/include/*' -d .libtorch/nccl
    fi
    nccl_inc=.libtorch/nccl/nvidia/nccl/include
  fi
fi
# ProcessGroupNCCL.hpp includes ATen's CUDA context, which wants the cuSPARSE / cuBLAS / cuSOLVER headers: from the
# toolkit, or from their nvidia-* wheels beside the CUDA torch wheel.
libs_inc=""
if [ ! -f "$cuda_inc/cusparse.h" ]; then
  for lib in cusparse cublas cusolver; do
    whl=$(find /opt -maxdepth 3 -name "nvidia_${lib}-*.whl" 2>/dev/null | head -n 1 || true)
    [ -n "$whl" ] || { nccl_inc=""; break; }
    unzip -q -o "$whl" 'nvidia/*/include/*' -d .libtorch/cuda-libs
  done
  libs_inc=$(dirname "$(find .libtorch/cuda-libs -name cusparse.h 2>/dev/null | head -n 1)" 2>/dev/null || true)
  [ -f "$libs_inc/cusparse.h" ] || nccl_inc=""
fi
if [ -n "$nccl_inc" ] && [ -f /usr/include/gloo/algorithm.h ]; then
  dist=(-DPAPREC_WITH_DIST=1 -DPAPREC_WITH_NCCL=1 -DUSE_C10D_GLOO=1 -DUSE_C10D_NCCL=1 -I "$nccl_inc" ${libs_inc:+-I "$libs_inc"})
  echo "check-cuda-compile: with the c10d Gloo + NCCL process group (nccl.h from $nccl_inc)"
else
  echo "check-cuda-compile: without the c10d process group (it needs nccl.h, the CUDA math library headers and gloo's: libgloo-dev)"
fi

napi=$(node -p "require('node-api-headers').include_dir")
addon=$(node -p "require('node-addon-api').include_dir")
flags=(-std=c++20 -fsyntax-only -fopenmp -DPAPREC_WITH_CUDA=1 -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DNODE_ADDON_API_CPP_EXCEPTIONS -I native -I "$torch/include" -I "$torch/include/torch/csrc/api/include"
  -I "$cuda_inc" -I "$napi" -I "$addon" "${dist[@]}")
echo "check-cuda-compile: $(ls native/**/*.cc native/*.cc 2>/dev/null | wc -l) sources against $torch (CUDA headers $cuda_inc)"
shopt -s globstar
printf '%s\n' native/**/*.cc | xargs -P "${PAPREC_BUILD_JOBS:-2}" -I{} sh -c 'g++ "$@" {} && echo "  ok {}"' _ "${flags[@]}"
echo "check-cuda-compile: the CUDA code path compiles"
