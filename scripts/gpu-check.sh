#!/usr/bin/env bash
# The GPU checks, on a CUDA machine with python3 torch (its LibTorch is used) and no network:
# builds the addon, runs bench/gpu-parity (fixtures on CUDA vs Hugging Face, CUDA vs CPU, stream counts) and the
# speed suites. Prepared here by scripts/pack-gpu.sh into .gpu/ (Node, runtime node_modules, compiled JS, data).
# Writes logs and bench JSON to ${OUT:-/tmp/paprec-gpu}.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/paprec-gpu}; mkdir -p "$out"
if ! command -v node >/dev/null; then
  tar xzf .gpu/node.tgz -C /tmp && export PATH=/tmp/package/bin:$PATH
fi
[ -d node_modules ] || tar xzf .gpu/nm.tgz
export PAPREC_BUILD_JOBS=${PAPREC_BUILD_JOBS:-16}
start=$(date +%s)
node scripts/build-native.js > "$out/build.log" 2>&1 || { echo "cmake-js build failed (log: build.log); trying scripts/build-direct.sh"; tail -15 "$out/build.log"; bash scripts/build-direct.sh > "$out/build-direct.log" 2>&1 || { tail -30 "$out/build-direct.log"; exit 1; }; }
echo "build: $(( $(date +%s) - start )) s; $(grep -m1 'LibTorch' "$out/build.log")"
export PAPREC_NATIVE=$PWD/build/Release/paprec_native.node PAPREC_BENCH_DEVICE=${PAPREC_BENCH_DEVICE:-cuda}
node .gpu/js/bench/gpu-parity.js cuda 2>&1 | tee "$out/parity.log"
[ "${GPU_BENCH:-1}" = 0 ] || (cd .gpu/js && node bench/index.js ${PAPREC_GPU_SUITES:-generate search forward train}) 2>&1 | tee "$out/bench.log"
cp .gpu/js/bench/results/*.json "$out/" 2>/dev/null || true
