#!/usr/bin/env bash
# The whole pipeline on real Beauty on a GPU: pretrain a p5-tiny backbone, evaluate the seen prompt against
# popularity on every test user, then non-personalized + personalized sequential searches with their report.
# Sizes via env: EPOCHS (20), SEARCH_USERS (3000), SEARCH_EPOCHS (6), RUNS (2), DEVICE (cuda).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/paprec-gpu}; mkdir -p "$out"
data=${DATA:-.gpu/shared/data/beauty}; tok=${TOKENIZER:-.gpu/shared/data/t5/spiece.model}
dev=${DEVICE:-cuda}; model=runs/beauty-$dev
paprec() { node bin/paprec.js "$@"; }
t0=$(date +%s); lap() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
lap "pretrain"
paprec pretrain --data "$data" --tokenizer "$tok" --config p5-tiny --tasks sequential --batch 256 --lr 1e-3 \
  --epochs "${EPOCHS:-20}" ${TRAIN_USERS:+--max-users $TRAIN_USERS} --val-users ${VAL_USERS:-1000} --val-beams 5 --device "$dev" --overwrite -o "$model" 2>&1 | tail -5
cp "$model/train_log.jsonl" "$out/" 2>/dev/null
lap "eval: seen prompt 2-3 vs popularity, test split, beam 20"
paprec eval --data "$data" --model "$model" --tokenizer "$tok" --task sequential --prompt seen --runs 1 --beams 20 \
  --max-length 10 --device "$dev" --baseline popular ${EVAL_USERS:+--max-users $EVAL_USERS} --json "$out/eval-seen.json" 2>&1 | tail -12
lap "search: non-personalized + personalized"
paprec search --data "$data" --model "$model" --tokenizer "$tok" --task sequential --personalized --length 5 \
  --max-users "${SEARCH_USERS:-3000}" --epochs "${SEARCH_EPOCHS:-6}" --runs "${RUNS:-2}" --device "$dev" \
  -o "$out/search" 2>&1 | tail -30
lap "done"
