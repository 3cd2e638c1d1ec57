// Can a from-scratch demo backbone learn P5's matching task (README "Matching on the demo backbone")? P5's matching
// prompt holds only the user id and 100 candidates, and the demo's catalogue is 120 items, so a list is nearly the
// whole catalogue: beating popularity takes knowing the user from the id. This trains the demo's tiny P5 on matching
// alone, on the demo world or on one whose id says something about the user (`--campaign-taste W`: a user's sign-up
// campaign category, id mod 10, weighs W in the taste), with ids spelt in digits or one piece per user
// (`--user-pieces`), then tests the last epoch's weights on the 100-candidate test lists beside most-popular (free and
// constrained decoding, beam 20, all users). Usage (after `npm run build`):
//   node scripts/matching-probe.mjs --out DIR [--campaign-taste 6] [--user-pieces] [--epochs 60] [--candidates 20]
//     [--per-user 8] [--lr 2e-3] [--seed 2024] [--items N (default the demo's 120)]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoTokenizer, demoCorpus, demoPlan, writeDemoData } from '../dist/demo/index.js';
import { loadTokenizer } from '../dist/tokenizer/index.js';
import { pretrain } from '../dist/train/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const flag = (name) => process.argv.includes(`--${name}`);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const out = arg('out');
if (!out) {
  console.error('usage: node scripts/matching-probe.mjs --out DIR [--campaign-taste W] [--user-pieces] [--epochs N] [--candidates C] [--per-user M] [--lr X] [--seed S]');
  process.exit(2);
}
const seed = Number(arg('seed', 2024)), epochs = Number(arg('epochs', 60)), candidates = Number(arg('candidates', 20));
const perUser = Number(arg('per-user', 8)), lr = Number(arg('lr', 2e-3)), campaignTaste = Number(arg('campaign-taste', 0));
const items = arg('items');

const plan = demoPlan(false, seed);
const demo = await writeDemoData(out, { ...plan.world, campaignTaste, ...(items !== undefined ? { items: Number(items) } : {}) });
if (flag('user-pieces')) writeFileSync(demo.tokenizerPath, buildDemoTokenizer(demoCorpus(demo.world), { users: demo.world.users.length }));
const tokenizer = await loadTokenizer(demo.tokenizerPath);
const modelDir = path.join(out, 'model');
const started = Date.now();
await pretrain({
  data: demo.dataDir,
  tokenizer: demo.tokenizerPath,
  config: { vocabSize: tokenizer.vocabSize, ...plan.config },
  out: modelDir,
  epochs,
  batchSize: plan.pretrain.batchSize,
  lr,
  tasks: ['matching'],
  matchingPerUser: perUser,
  matchingCandidates: candidates,
  validationUsers: 50,
  validationBeams: 0,
  device: 'cpu',
  seed,
});
const seconds = (Date.now() - started) / 1000;

// The last epoch's weights (the kept epoch is chosen on sequential validation, which matching alone does not train).
const last = path.join(out, 'last');
mkdirSync(last, { recursive: true });
copyFileSync(path.join(modelDir, 'config.json'), path.join(last, 'config.json'));
const stateDir = path.join(modelDir, 'train_state');
const weights = readdirSync(stateDir).find((f) => f.startsWith(`weights-e${epochs}-`));
if (!weights) throw new Error(`${stateDir}: no weights of epoch ${epochs}`);
copyFileSync(path.join(stateDir, weights), path.join(last, 'model.safetensors'));

const evalArgs = ['eval', '--data', demo.dataDir, '--model', last, '--tokenizer', demo.tokenizerPath, '--task', 'matching', '--prompt', 'seen',
  '--runs', '1', '--baseline', 'popular', '--constrained', '--device', 'cpu'];
const r = spawnSync(process.execPath, [path.join(root, 'bin', 'paprec.js'), ...evalArgs], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(`paprec eval failed: ${r.stderr}`);
console.log(`${demo.world.items.length} items, campaign taste ${campaignTaste}, ${flag('user-pieces') ? 'one piece per user id' : 'ids in digits'}, ${epochs} epochs x ${perUser} lists of ${candidates} per user, lr ${lr}: trained in ${seconds.toFixed(0)} s`);
console.log(r.stdout.trim().split('\n').slice(-5).join('\n'));
