#!/usr/bin/env bash
# Issue #18 item 5: validation surrogate against wall time for k = 5 (the paper) and wider pools B (ranked by the
# training loss on --pool-rows sampled training rows, the best k scored), on the demo's backbone. One `paprec search`
# per pool, same seed; prints the surrogate per epoch against cumulative round time, then one summary table
# (written to $OUT/pool-sweep.md too).
# Build the backbone once first:  npx tsc -p tsconfig.json && node bin/paprec.js demo --quick -o /tmp/wide/demo --device cpu
# Env: DEMO (/tmp/wide/demo), OUT (runs/pool-sweep), POOLS ("5 64 256"), K (5), EPOCHS (8), POOL_ROWS (256),
# SEED (2022), DEVICE (cpu), RUNS (test runs of the report, 5), EXTRA (more `paprec search` flags).
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${DEMO:-/tmp/wide/demo}; out=${OUT:-runs/pool-sweep}; k=${K:-5}
mkdir -p "$out"
for b in ${POOLS:-5 64 256}; do
  dir="$out/pool-$b"
  rm -rf "$dir"
  t0=$(date +%s.%N)
  node bin/paprec.js search --data "$demo/data" --model "$demo/backbone" --tokenizer "$demo/tokenizer.json" \
    --task sequential --length 5 --epochs "${EPOCHS:-8}" -k "$k" --pool "$b" \
    $([ "$b" -gt "$k" ] && echo --pool-rows "${POOL_ROWS:-256}") \
    --seed "${SEED:-2022}" --device "${DEVICE:-cpu}" --runs "${RUNS:-5}" ${EXTRA:-} -o "$dir" 2>"$dir.log" >/dev/null
  echo "$(date +%s.%N) - $t0" | bc > "$dir.wall"
done
node --input-type=module - "$out" $k ${POOLS:-5 64 256} <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
const [out, k, ...pools] = process.argv.slice(2);
const rows = [];
for (const b of pools) {
  const dir = `${out}/pool-${b}`;
  const history = readFileSync(`${dir}/history.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  let t = 0;
  console.log(`\npool B = ${b} (k = ${k}): epoch, cumulative round time s, validation surrogate (current, best)`);
  for (const h of history) {
    t += h.time;
    console.log(`  ${String(h.epoch).padStart(2)}  ${t.toFixed(1).padStart(7)}  ${h.after.toFixed(4)}  ${h.best.toFixed(4)}${h.accepted ? '  accepted' : ''}${h.pool ? `  (loss-ranked top: ${h.pool.top.map((c) => `${c.text}@${c.gradientRank}`).join(' ')})` : ''}`);
  }
  const report = JSON.parse(readFileSync(`${dir}/report.json`, 'utf8'));
  const row = report.rows.find((r) => r.kind === 'non-personalized');
  const hr10 = row.metrics['HR@10'];
  const last = history[history.length - 1];
  rows.push(`| ${b} | ${last.epoch} | ${last.best.toFixed(4)} | ${t.toFixed(1)} | ${Number(readFileSync(`${dir}.wall`, 'utf8')).toFixed(0)} | ${hr10.mean.toFixed(4)}${hr10.n > 1 ? ` ± ${hr10.std.toFixed(4)}` : ''} |`);
}
const table = ['| pool B | epochs | best validation surrogate | search s (rounds) | wall s (command) | test HR@10 |', '|---|---|---|---|---|---|', ...rows].join('\n');
console.log(`\n${table}`);
writeFileSync(`${out}/pool-sweep.md`, `${table}\n`);
JS
