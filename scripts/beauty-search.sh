#!/usr/bin/env bash
# PAP-REC on real Beauty: a non-personalized and a personalized search (l = 5, the paper's surrogate, k = 5) on the
# backbone scripts/beauty-backbone.sh trains, then the test table (seen, unseen, non-personalized, personalized).
# Env: DATA, TOKENIZER, MODEL (runs/beauty), OUT (runs/beauty-search), USERS (5000: users 1..N), EPOCHS (3 rounds per
# search), GRADIENT_SAMPLE (512 training rows per gradient pass), RUNS (1 test run), PAPREC_NATIVE (as the backbone
# script sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data/beauty}; tok=${TOKENIZER:-../shared/data/t5/spiece.model}
[ -n "${PAPREC_NATIVE:-}" ] || { [ -f build-torch2/Release/paprec_native.node ] && export PAPREC_NATIVE="$PWD/build-torch2/Release/paprec_native.node"; }
t0=$(date +%s)
node bin/paprec.js search --data "$data" --model "${MODEL:-runs/beauty}" --tokenizer "$tok" --task sequential \
  --personalized --length 5 --max-users "${USERS:-5000}" --epochs "${EPOCHS:-3}" \
  --gradient-sample "${GRADIENT_SAMPLE:-512}" --runs "${RUNS:-1}" --device cpu -o "${OUT:-runs/beauty-search}"
echo "[$(( $(date +%s) - t0 )) s] search done: ${OUT:-runs/beauty-search}/report.md"
