#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine with Node 20 for paprec: system packages (LibTorch, OpenBLAS, a C++20
# toolchain, CMake), then `npm ci`, which builds the native addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v unzip >/dev/null || need+=(unzip)
# LibTorch: skipped when the user points at their own (LIBTORCH / Torch_DIR) or python3 has torch.
if [ -z "${LIBTORCH:-}${Torch_DIR:-}" ] && ! python3 -c 'import torch' >/dev/null 2>&1; then
  dpkg -s libtorch-dev >/dev/null 2>&1 || need+=(libtorch-dev)
fi
# Debian's LibTorch multiplies through the BLAS that the alternatives select: the reference BLAS is ~14x slower.
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "paprec setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
arch_dir=/usr/lib/$(uname -m)-linux-gnu
if [ -e "$arch_dir/openblas-openmp/libblas.so.3" ]; then
  $SUDO update-alternatives --set "libblas.so.3-$(uname -m)-linux-gnu" "$arch_dir/openblas-openmp/libblas.so.3" >/dev/null || true
  $SUDO update-alternatives --set "liblapack.so.3-$(uname -m)-linux-gnu" "$arch_dir/openblas-openmp/liblapack.so.3" >/dev/null || true
fi

if [ ! -f build/Release/paprec_native.node ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
else
  npm run build:native && npm run build
fi
