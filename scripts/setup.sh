#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine with Node 20 for paprec: a C++20 toolchain and CMake, gloo's headers (for
# torch.distributed), a LibTorch, then `npm ci`, which builds the native addon and the TypeScript.
#
# LibTorch, in order (PAPREC_LIBTORCH=auto, the default):
#   1. LIBTORCH or Torch_DIR when given;
#   2. LibTorch 2.x from pip's CPU torch wheel (PAPREC_TORCH_WHEEL, default torch==2.13.0+cpu; a path to a .whl also
#      works): `pip download --no-deps`, then include/, lib/ and share/ extracted into .libtorch/cpu2 (ignored by git);
#   3. where pip has no index serving it: Debian's libtorch-dev (1.13) with OpenBLAS.
# PAPREC_LIBTORCH=wheel or =debian forces one of the two. The choice is printed and, for the default build
# (PAPREC_BUILD_DIR unset), kept in .libtorch/selected, which `npm run build:native` reads later.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${PAPREC_LIBTORCH:-auto}
wheel_spec=${PAPREC_TORCH_WHEEL:-torch==2.13.0+cpu}
wheel_root=.libtorch/cpu2
case "$mode" in auto | wheel | debian) ;; *)
  echo "paprec setup: PAPREC_LIBTORCH=$mode: expected auto, wheel or debian" >&2
  exit 1
  ;;
esac

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
  echo "paprec setup: installing $*"
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq && apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v unzip >/dev/null || need+=(unzip)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# torch.distributed (several processes: paprec launch, torchrun): c10d's Gloo header includes gloo's headers, which
# the torch wheels do not ship; Debian's libgloo-dev has them. Without it the build runs one process only.
if [ ! -f /usr/include/gloo/algorithm.h ] && command -v apt-get >/dev/null; then
  apt_install libgloo-dev || echo "paprec setup: libgloo-dev could not be installed: the build will run one process only" >&2
fi

# --- 2. the CPU torch wheel from pip -> .libtorch/cpu2/torch ---------------------------------------------------------
# Prints nothing and fails where pip, its index or the wheel is missing (the reason goes to stderr).
wheel_libtorch() {
  local marker="$wheel_root/WHEEL" name
  if [ -f "$wheel_root/torch/share/cmake/Torch/TorchConfig.cmake" ] && [ "$(cat "$marker" 2>/dev/null)" = "$wheel_spec" ]; then
    echo "$PWD/$wheel_root/torch"
    return 0
  fi
  local wheel
  if [ -f "$wheel_spec" ]; then
    wheel=$wheel_spec
  else
    if ! python3 -m pip --version >/dev/null 2>&1; then
      echo "paprec setup: no pip (python3 -m pip) to fetch $wheel_spec" >&2
      return 1
    fi
    local dl=.libtorch/download
    rm -rf "$dl" && mkdir -p "$dl"
    if ! PIP_RETRIES=${PIP_RETRIES:-1} python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
      -q -d "$dl" "$wheel_spec" >"$dl.log" 2>&1; then
      echo "paprec setup: pip has no index or wheel folder serving $wheel_spec ($(tail -n 1 "$dl.log"))" >&2
      rm -rf "$dl" "$dl.log"
      return 1
    fi
    wheel=$(find "$dl" -name 'torch-*.whl' | head -n 1)
  fi
  rm -rf "$wheel_root" && mkdir -p "$wheel_root"
  if ! unzip -q -o "$wheel" 'torch/include/*' 'torch/lib/*' 'torch/share/*' -d "$wheel_root" ||
    [ ! -f "$wheel_root/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
    echo "paprec setup: $wheel holds no LibTorch (torch/share/cmake/Torch/TorchConfig.cmake)" >&2
    rm -rf "$wheel_root" .libtorch/download .libtorch/download.log
    return 1
  fi
  name=$(basename "$wheel")
  rm -rf .libtorch/download .libtorch/download.log
  echo "$wheel_spec" >"$marker"
  echo "paprec setup: extracted LibTorch from $name into $wheel_root" >&2
  echo "$PWD/$wheel_root/torch"
}

# --- 3. Debian's libtorch-dev 1.13 + OpenBLAS ------------------------------------------------------------------------
debian_libtorch() {
  local pkgs=()
  dpkg -s libtorch-dev >/dev/null 2>&1 || pkgs+=(libtorch-dev)
  # Debian's LibTorch multiplies through the BLAS that the alternatives select: the reference BLAS is ~14x slower.
  dpkg -s libopenblas0-openmp >/dev/null 2>&1 || pkgs+=(libopenblas0-openmp)
  [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}" >&2
  local arch_dir=/usr/lib/$(uname -m)-linux-gnu
  if [ -e "$arch_dir/openblas-openmp/libblas.so.3" ]; then
    $SUDO update-alternatives --set "libblas.so.3-$(uname -m)-linux-gnu" "$arch_dir/openblas-openmp/libblas.so.3" >/dev/null || true
    $SUDO update-alternatives --set "liblapack.so.3-$(uname -m)-linux-gnu" "$arch_dir/openblas-openmp/liblapack.so.3" >/dev/null || true
  fi
  local config
  config=$(dpkg -L libtorch-dev | grep '/TorchConfig.cmake$' | head -n 1)
  [ -n "$config" ] || { echo "paprec setup: libtorch-dev is installed but has no TorchConfig.cmake" >&2; return 1; }
  dirname "$config"
}

if [ -n "${LIBTORCH:-}${Torch_DIR:-}" ]; then
  echo "paprec setup: LibTorch: the one given (${LIBTORCH:+LIBTORCH=$LIBTORCH }${Torch_DIR:+Torch_DIR=$Torch_DIR})"
  [ -n "${PAPREC_BUILD_DIR:-}" ] || rm -f .libtorch/selected
else
  torch_dir=""
  if [ "$mode" != debian ] && libtorch=$(wheel_libtorch); then
    export LIBTORCH=$libtorch
    torch_dir=$LIBTORCH/share/cmake/Torch
    echo "paprec setup: LibTorch: pip's CPU wheel $wheel_spec ($LIBTORCH)"
  elif [ "$mode" = wheel ]; then
    echo "paprec setup: PAPREC_LIBTORCH=wheel, but no LibTorch could be taken from $wheel_spec (see above)" >&2
    exit 1
  else
    torch_dir=$(debian_libtorch)
    export Torch_DIR=$torch_dir
    why="fallback: no LibTorch 2.x from pip's $wheel_spec"
    [ "$mode" = debian ] && why="PAPREC_LIBTORCH=debian"
    echo "paprec setup: LibTorch: Debian's libtorch-dev $(dpkg-query -W -f='${Version}' libtorch-dev) ($Torch_DIR; $why)"
  fi
  if [ -z "${PAPREC_BUILD_DIR:-}" ]; then
    mkdir -p .libtorch
    echo "$torch_dir" >.libtorch/selected
  fi
fi

if [ ! -f build/Release/paprec_native.node ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
else
  npm run build:native && npm run build
fi
