/**
 * `paprec recommend`: apply a prompt (manual id or a search's prompt.json) to users and write their top-k items as
 * JSON lines, `{"user":..., "items":[...], "scores":[...]}`, in input order. Users come from the data folder
 * (`--users 1,5,10-20` or `all`, their whole history) or from a JSON-lines file of requests
 * (`{"user": 7, "history": [..]}`, `{"user": 7, "candidates": [..]}` for matching prompts). Batches of
 * `--batch-size` users go to the engine in one call each; a progress bar on stderr when there are many.
 */
import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { PaprecError, fail } from '../errors.js';
import { readFileOrFail, writeFileAtomic } from '../util/fs.js';
import { numberedLines } from '../data/lines.js';
import { dtypeOption, type CliDtype } from './dtype.js';
import { DEFAULT_BEAMS, DEFAULT_K, Recommender, type Recommendation, type RecommendRequest } from '../recommend/index.js';
import type { ProcessGroup } from '../dist/group.js';
import { withGroup } from '../dist/join.js';
import { isRoot, rankDeviceOf } from '../dist/roles.js';

/** `1,2,3`, `10-20` ranges, or `all` (every user of the data). */
export function parseUsers(text: string, numUsers: number): number[] {
  if (text.trim() === 'all') {
    if (numUsers === 0) fail('--users', '"all" needs --data');
    return Array.from({ length: numUsers }, (_, i) => i + 1);
  }
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi < lo || !Number.isSafeInteger(hi)) fail('--users', `"${part}" is not a user id or a range like 10-20 (ids start at 1)`);
    if (hi - lo > 10_000_000) fail('--users', `the range ${part} is too long`);
    for (let u = lo; u <= hi; u++) out.push(u);
  }
  return out;
}

/** The requests of a JSON-lines file (blank lines skipped); a line that is not JSON is an error naming it. */
export async function readRequests(file: string): Promise<Array<{ request: RecommendRequest; where: string }>> {
  const text = (await readFileOrFail(file, 'request file (JSON lines)')).toString('utf8');
  const out: Array<{ request: RecommendRequest; where: string }> = [];
  for (const [line, n] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${n}`;
    try {
      out.push({ request: JSON.parse(line) as RecommendRequest, where });
    } catch (err) {
      fail(where, `not valid JSON (${(err as Error).message})`);
    }
  }
  if (out.length === 0) fail(file, 'no requests (one JSON object per line)');
  return out;
}

export interface RecommendCliOptions {
  model: string;
  tokenizer: string;
  prompt: string;
  data?: string;
  users?: string;
  input?: string;
  k: number;
  beams: number;
  constrained: boolean;
  batchSize: number;
  device: string;
  dtype?: CliDtype;
  out?: string;
  /** Progress as (done, total); the CLI draws a bar. */
  onProgress?: (done: number, total: number) => void;
  /** Distributed (src/dist): request i on rank i mod world; every rank ends with all lines; rank 0 writes --out. */
  group?: ProcessGroup;
}

/** Everything `paprec recommend` does but the printing: the JSON lines, in input order. */
export async function runRecommend(o: RecommendCliOptions): Promise<string[]> {
  if ((o.users === undefined) === (o.input === undefined)) fail('recommend', 'give either --users (with --data) or --input FILE.jsonl');
  if (o.users !== undefined && !o.data) fail('recommend', '--users needs --data (the users\' histories)');
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) fail('recommend', `--batch-size must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(o.beams) || o.beams < 1) fail('recommend', `--beams must be a positive integer, got ${o.beams}`);
  if (!Number.isInteger(o.k) || o.k < 1 || o.k > o.beams) fail('recommend', `-k must be an integer in 1..${o.beams} (--beams), got ${o.k}`);
  const inputs = o.input ? await readRequests(o.input) : undefined;
  const rec = await Recommender.load({
    model: o.model,
    tokenizer: o.tokenizer,
    prompt: o.prompt,
    ...(o.data ? { data: o.data } : {}),
    device: rankDeviceOf(o),
    ...(o.dtype ? { dtype: o.dtype } : {}),
    onWarning: (m) => process.stderr.write(`note: ${m}\n`),
  });
  try {
    const requests = inputs ?? parseUsers(o.users!, rec.numUsers).map((user) => ({ request: { user } as RecommendRequest, where: `--users ${user}` }));
    const opts = { k: o.k, beams: o.beams, constrained: o.constrained };
    // Every request is checked before the first batch runs: a bad line fails fast, naming itself.
    const prepared = requests.map(({ request, where }) => {
      try {
        return rec.prepare(request, opts, 'request');
      } catch (err) {
        throw new PaprecError(`${where}: ${(err as Error).message}`);
      }
    });
    const g = o.group;
    const mine = g ? prepared.filter((_, i) => i % g.world === g.rank) : prepared;
    let lines: string[] = [];
    for (let start = 0; start < mine.length; start += o.batchSize) {
      const out: Recommendation[] = await rec.run(mine.slice(start, start + o.batchSize), opts);
      for (const r of out) lines.push(JSON.stringify({ user: r.user, items: r.items, scores: r.scores.map((s) => Number(s.toFixed(6))) }));
      o.onProgress?.(Math.min(mine.length, start + o.batchSize), mine.length);
    }
    if (g) {
      const parts = await g.allGatherJson(lines);
      lines = prepared.map((_, i) => parts[i % g.world]![Math.floor(i / g.world)]!);
    }
    if (o.out && isRoot(o)) await writeFileAtomic(o.out, lines.map((l) => `${l}\n`).join(''));
    return lines;
  } finally {
    await rec.dispose();
  }
}

interface RecommendArgs {
  model: string;
  tokenizer: string;
  prompt: string;
  data?: string;
  users?: string;
  input?: string;
  k: number;
  beams: number;
  constrained: boolean;
  'batch-size': number;
  device: string;
  dtype: CliDtype;
  out?: string;
}

/** The options that load a Recommender (shared by `recommend` and `serve`). */
export function recommenderOptions(y: Argv): Argv {
  return y
    .option('model', { type: 'string', demandOption: true, describe: 'checkpoint (HF folder, .safetensors or P5 .pth)' })
    .option('tokenizer', { type: 'string', demandOption: true, describe: 'tokenizer.json or spiece.model' })
    .option('prompt', { type: 'string', demandOption: true, describe: 'manual prompt id (2-3, 5-7, ...) or prompt.json[#N]' })
    .option('data', { type: 'string', describe: 'P5 data folder: the catalogue and the users\' histories' })
    .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
    .option('dtype', dtypeOption);
}

export const recommendCommand: CommandModule<object, RecommendArgs> = {
  command: 'recommend',
  describe: 'Top-k items per user from a prompt (manual id or a search\'s prompt.json), as JSON lines',
  builder: (y: Argv) =>
    recommenderOptions(y)
      .option('users', { type: 'string', describe: 'users of --data: 1,2,3 | 10-20 | all' })
      .option('input', { type: 'string', describe: 'JSON lines of requests {user, history?, candidates?, k?, constrained?}' })
      .option('k', { alias: 'n', type: 'number', default: DEFAULT_K, describe: 'items per user' })
      .option('beams', { type: 'number', default: DEFAULT_BEAMS, describe: 'beam width (P5 tests with 20)' })
      .option('constrained', { type: 'boolean', default: false, describe: 'decode only valid items (the candidates, else the catalogue)' })
      .option('batch-size', { type: 'number', default: 32, describe: 'users per engine call' })
      .option('out', { alias: 'o', type: 'string', describe: 'write the JSON lines here (default: stdout)' }) as unknown as Argv<RecommendArgs>,
  handler: async (args) => {
    const bar = new cliProgress.SingleBar(
      { format: 'recommend [{bar}] {value}/{total} users | {eta_formatted} left', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let barOn = false;
    try {
      // Distributed (RANK / WORLD_SIZE set): the requests split over the ranks; rank 0 prints or writes them all.
      const lines = await withGroup(args.device, async (group) => runRecommend({
        model: args.model,
        tokenizer: args.tokenizer,
        prompt: args.prompt,
        ...(args.data ? { data: args.data } : {}),
        ...(args.users !== undefined ? { users: String(args.users) } : {}),
        ...(args.input ? { input: args.input } : {}),
        k: args.k,
        beams: args.beams,
        constrained: args.constrained,
        batchSize: args['batch-size'],
        device: args.device,
        dtype: args.dtype,
        ...(args.out ? { out: args.out } : {}),
        ...(group ? { group } : {}),
        onProgress: (done, total) => {
          if (total <= args['batch-size'] || !isRoot({ group })) return; // one batch: no bar
          if (!barOn) {
            bar.start(total, 0);
            barOn = true;
          }
          bar.update(done);
        },
      }).then((l) => (isRoot({ group }) ? l : undefined)));
      if (barOn) bar.stop();
      barOn = false;
      if (!lines) return; // ranks other than 0
      if (args.out) process.stderr.write(`paprec recommend: wrote ${lines.length} users to ${args.out}\n`);
      else process.stdout.write(lines.map((l) => `${l}\n`).join(''));
    } finally {
      if (barOn) bar.stop();
    }
  },
};
