#!/usr/bin/env bash
# Fallback build without CMake: compiles the addon with g++ against python3's torch (CUDA when it has it) into
# build/Release/paprec_native.node. For GPU servers whose CMake cannot configure the CUDA LibTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
inc=$($py -c "import torch, os; r=os.path.dirname(torch.__file__); print(r+'/include', r+'/include/torch/csrc/api/include')")
lib=$($py -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
abi=$($py -c "import torch; print(int(torch.compiled_with_cxx11_abi()))")
cuda=$($py -c "import torch; print(1 if torch.version.cuda else 0)")
flags=(-O2 -std=c++20 -fPIC -fopenmp -D_GLIBCXX_USE_CXX11_ABI=$abi -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DNODE_ADDON_API_CPP_EXCEPTIONS -I native -I "$(node -p "require('node-api-headers').include_dir")"
  -I "$(node -p "require('node-addon-api').include_dir")")
for d in $inc; do flags+=(-I "$d"); done
libs=(-L"$lib" -Wl,-rpath,"$lib" -ltorch -ltorch_cpu -lc10 -fopenmp)
if [ "$cuda" = 1 ]; then
  cuda_inc=$(dirname "$(command -v nvcc)")/../include
  flags+=(-DPAPREC_WITH_CUDA=1 -I "$cuda_inc")
  libs+=(-ltorch_cuda -lc10_cuda -Wl,--no-as-needed)
fi
mkdir -p build/direct build/Release
printf '%s\n' native/*.cc native/*/*.cc | xargs -P "${PAPREC_BUILD_JOBS:-8}" -I{} sh -c \
  'o=build/direct/$(echo {} | tr / _).o; g++ "$@" -c {} -o "$o"' _ "${flags[@]}"
g++ -shared -o build/Release/paprec_native.node build/direct/*.o -Wl,--no-as-needed "${libs[@]}"
echo "build-direct: build/Release/paprec_native.node (cuda=$cuda)"
