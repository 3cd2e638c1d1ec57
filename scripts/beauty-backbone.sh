#!/usr/bin/env bash
# A Beauty backbone from scratch on a CPU, in two stages, then `paprec eval` (prompt 2-3, beam 20) on every test user
# next to the most-popular baseline:
#   1. the synthetic `successor` task (the id after the largest history id; paprec generates it): digit pieces, their
#      order and their successor, what T5's own pretraining would have taught. Reused when $STAGE1 already holds it.
#   2. P5's sequential task on real Beauty, from stage 1's weights (--init), with the successor task still mixed in
#      (as many examples per user): without it the rule was forgotten within two epochs and the backbone ranked
#      popular items only (validation HR@5 0.011, README).
# Training is ~2x faster on LibTorch 2.x than on Debian's 1.13, so when a CPU torch 2.x wheel sits under /opt (and no
# LIBTORCH / PAPREC_NATIVE is given) the addon is built against it into build-torch2/ and used through PAPREC_NATIVE.
# Env: DATA, TOKENIZER, OUT (runs/beauty), STAGE1 ($OUT-successor), EPOCHS1 (2), EPOCHS2 (3), TASKS2 (sequential,successor), WINDOWS (3 windows per
# user per epoch), BATCH (32), LR1 / LR2 (2e-2 / 1e-2, AdamW-scale), CONFIG (p5-tiny), EVAL_USERS (all), EVAL (1: run the eval).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data/beauty}; tok=${TOKENIZER:-../shared/data/t5/spiece.model}
model=${OUT:-runs/beauty}; stage1=${STAGE1:-$model-successor}

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
common=(--data "$data" --tokenizer "$tok" --dropout 0 --no-whole-word --windows-per-user "${WINDOWS:-3}"
  --batch "${BATCH:-32}" --optimizer adamw-scale --weight-decay 0 --train-history 20
  --val-users 1000 --val-beams 20 --device cpu)
finished() { node -e "const s = require(require('path').resolve(process.argv[1])); process.exit(s.epoch === s.identity.epochs && s.epoch === +process.argv[2] ? 0 : 1)" \
  "$1/train_state/state.json" "$2" 2>/dev/null; }
if finished "$stage1" "${EPOCHS1:-2}"; then
  lap "stage 1: reusing $stage1"
else
  lap "stage 1: the synthetic successor task"
  node bin/paprec.js pretrain "${common[@]}" --config "${CONFIG:-p5-tiny}" --tasks successor --epochs "${EPOCHS1:-2}" --lr "${LR1:-2e-2}" \
    --keep-best-by loss --overwrite -o "$stage1"
fi
lap "stage 2: P5's sequential task with the successor task, from stage 1"
node bin/paprec.js pretrain "${common[@]}" --init "$stage1" --tasks "${TASKS2:-sequential,successor}" --epochs "${EPOCHS2:-3}" --lr "${LR2:-1e-2}" \
  --keep-best-by surrogate --overwrite -o "$model"
[ "${EVAL:-1}" = 1 ] || exit 0
lap "eval: prompt 2-3 vs popularity, test split, beam 20"
node bin/paprec.js eval --data "$data" --model "$model" --tokenizer "$tok" --task sequential --prompt seen \
  --runs 1 --beams 20 --device cpu --baseline popular ${EVAL_USERS:+--max-users $EVAL_USERS} \
  --json "$model/eval-test.json"
lap "done"
