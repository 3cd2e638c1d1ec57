#!/usr/bin/env bash
# Issue 5's check on a CPU machine: pretrain a p5-tiny backbone on real Beauty (sequential prompts, seen only), then
# evaluate prompt 2-3 on every test user (beam 20) next to the most-popular baseline.
# Training is ~2x faster on LibTorch 2.x than on Debian's 1.13, so when a CPU torch 2.x wheel sits under /opt (and no
# LIBTORCH is given) the addon is built against it into build-torch2/ and used through PAPREC_NATIVE.
# Env: DATA, TOKENIZER, OUT (runs/beauty-cpu), EPOCHS (12), WINDOWS (3 training windows per user per epoch),
# BATCH (32), OPTIMIZER (adamw-scale), LR (2e-2), WEIGHT_DECAY (0), DROPOUT (0), TRAIN_HISTORY (20),
# KEEP_BEST_BY (loss: a few validation hits among 1,000 users are noise; surrogate: HR@5 + NDCG@5), EVAL_USERS (all),
# WHOLE_WORD (--no-whole-word: a plain T5; empty: P5's whole-word embeddings).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data/beauty}; tok=${TOKENIZER:-../shared/data/t5/spiece.model}; model=${OUT:-runs/beauty-cpu}

if [ -z "${LIBTORCH:-}${PAPREC_NATIVE:-}" ]; then
  wheel=$(find /opt -maxdepth 3 -name 'torch-2*+cpu*.whl' 2>/dev/null | sort | tail -n 1 || true)
  if [ -n "$wheel" ]; then
    root=.libtorch/cpu2
    [ -f "$root/torch/share/cmake/Torch/TorchConfig.cmake" ] ||
      { mkdir -p "$root" && unzip -q -o "$wheel" 'torch/include/*' 'torch/lib/*' 'torch/share/*' -d "$root"; }
    LIBTORCH="$PWD/$root/torch" PAPREC_BUILD_DIR=build-torch2 node scripts/build-native.js  # incremental
    export PAPREC_NATIVE="$PWD/build-torch2/Release/paprec_native.node"
  fi
fi
node -e "import('./dist/native.js').then((m) => console.log('LibTorch', m.native().info().torchVersion))"

t0=$(date +%s); lap() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
lap "pretrain"
node bin/paprec.js pretrain --data "$data" --tokenizer "$tok" --config p5-tiny --dropout "${DROPOUT:-0}" ${WHOLE_WORD---no-whole-word} \
  --tasks sequential --epochs "${EPOCHS:-12}" --windows-per-user "${WINDOWS:-3}" --batch "${BATCH:-32}" \
  --optimizer "${OPTIMIZER:-adamw-scale}" --lr "${LR:-2e-2}" --weight-decay "${WEIGHT_DECAY:-0}" \
  --train-history "${TRAIN_HISTORY:-20}" --keep-best-by "${KEEP_BEST_BY:-loss}" \
  --val-users 1000 --val-beams 5 --device cpu --overwrite -o "$model"
lap "eval: prompt 2-3 vs popularity, test split, beam 20"
node bin/paprec.js eval --data "$data" --model "$model" --tokenizer "$tok" --task sequential --prompt seen \
  --runs 1 --beams 20 --max-length 10 --device cpu --baseline popular ${EVAL_USERS:+--max-users $EVAL_USERS} \
  --json "$model/eval-test.json"
lap "done"
