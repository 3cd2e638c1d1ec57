#!/bin/bash
# Builds bench/devcheck/cuda_check.cc with the engine sources against python3's CUDA torch and runs it.
set -e
cd "$(dirname "$0")/../.."
PY=python3
INC=$($PY -c "import torch.utils.cpp_extension as c; print(' '.join('-I'+p for p in c.include_paths(device_type='cuda')))" 2>/dev/null || $PY -c "import torch.utils.cpp_extension as c; print(' '.join('-I'+p for p in c.include_paths(cuda=True)))")
LIB=$($PY -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
ABI=$($PY -c "import torch; print(int(torch.compiled_with_cxx11_abi()))")
CUDA_INC=$(dirname $(which nvcc))/../include
echo "torch lib $LIB abi $ABI"
mkdir -p /tmp/dc && cd native
srcs="model/t5.cc engine/loss.cc engine/generate.cc engine/example_set.cc engine/shards.cc engine/slots.cc ../bench/devcheck/cuda_check.cc"
pids=""
for s in $srcs; do
  o=/tmp/dc/$(basename $s .cc).o
  [ -f $o ] || g++ -O2 -std=c++20 -fPIC -D_GLIBCXX_USE_CXX11_ABI=$ABI -DPAPREC_WITH_CUDA=1 -I. $INC -I$CUDA_INC -c $s -o $o &
  pids="$pids $!"
done
for p in $pids; do wait $p; done
g++ /tmp/dc/*.o -o /tmp/dc/check -L$LIB -Wl,-rpath,$LIB -ltorch -ltorch_cpu -ltorch_cuda -lc10 -lc10_cuda $LIB/../../nvidia/cu13/lib/libcudart.so.13 -Wl,-rpath,$LIB/../../nvidia/cu13/lib
/tmp/dc/check
