import type { Argv, CommandModule } from 'yargs';
import { dtypeOption, type CliDtype } from './dtype.js';
import { PaprecError } from '../errors.js';
import { runSearch, type RunProgress } from '../search/run.js';
import { lockOutputDir } from '../util/lock.js';
import { withGroup } from '../dist/join.js';

interface SearchArgs {
  data?: string;
  model?: string;
  tokenizer?: string;
  task?: string;
  personalized?: boolean;
  length?: string;
  placement?: string;
  'user-position'?: string;
  k?: number;
  pool?: number;
  'pool-rows'?: number;
  'user-accept'?: string;
  'alpha-seq'?: number;
  'alpha-exp'?: number;
  beams?: number;
  criterion?: string;
  epochs?: number;
  seed?: number;
  'max-users'?: number;
  device?: string;
  dtype?: CliDtype;
  streams?: number;
  'gradient-sample'?: number;
  runs?: number;
  'test-beams'?: number;
  'max-length'?: number;
  out?: string;
  resume?: string;
  init?: string;
  force: boolean;
}

function fmt(x: number | null | undefined): string {
  return typeof x === 'number' ? x.toFixed(4) : '–';
}

/** One status line on stderr: rewritten in place on a terminal, one line per event otherwise. */
function progressPrinter(): (p: RunProgress) => void {
  const tty = process.stderr.isTTY === true;
  let last = '';
  return (p) => {
    let line: string;
    if (p.type === 'info') {
      process.stderr.write(`${tty && last ? '\n' : ''}note: ${p.message}\n`);
      last = '';
      return;
    }
    if (p.type === 'test') line = `test: run ${p.run}/${p.runs}, ${p.kind}`;
    else {
      const where = p.phase === 'user' ? 'user tokens' : p.slot !== undefined ? `slot ${p.slot}` : p.phase;
      const what = p.step === 'scoring' && p.candidates ? `scoring ${p.candidates} candidate${p.candidates > 1 ? 's' : ''}`
        : p.step === 'pool' && p.candidates ? `ranking ${p.candidates} candidates by the training loss` : p.step;
      line = `[${p.search}] epoch ${p.epoch}/${p.maxEpochs} ${where}: ${what} | current ${fmt(p.current)} best ${fmt(p.best)}`;
    }
    if (line === last) return;
    last = line;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    if (tty && p.type === 'search' && p.step === 'done') process.stderr.write('\n');
  };
}

/** `paprec search`: PAP-REC's prompt search, the test evaluation and the report, into an output folder. */
export const searchCommand: CommandModule<object, SearchArgs> = {
  command: 'search',
  describe: 'Search task-token (and personalized user-token) prompts for a P5 model; write prompt, history and report',
  builder: (y: Argv) =>
    y
      .option('data', { type: 'string', describe: 'P5 data folder' })
      .option('model', { type: 'string', describe: 'P5 checkpoint (HF folder, .safetensors or .pth)' })
      .option('tokenizer', { type: 'string', describe: 'tokenizer.json or spiece.model' })
      .option('task', { type: 'string', describe: 'sequential | explanation | matching' })
      .option('personalized', { type: 'boolean', describe: 'also search the per-user token [T_u] (default: off)' })
      .option('length', { type: 'string', describe: 'task tokens l: auto (5 and 6; the default), a number, or a list to sweep (3,4,5,6,7)' })
      .option('placement', { type: 'string', choices: ['suffix', 'prefix', 'both'], describe: 'trigger tokens after / before the task argument (default: suffix)' })
      .option('user-position', { type: 'string', choices: ['end', 'start'], describe: 'where [T_u] sits among the trigger tokens (default: end)' })
      .option('k', { type: 'number', describe: 'candidates per round (default: 5)' })
      .option('pool', { type: 'number', describe: 'gradient candidates per round ranked by the training loss, the best k scored (default: k, the paper)' })
      .option('pool-rows', { type: 'number', describe: 'training rows (seeded sample) that rank the pool (default: 256)' })
      .option('user-accept', {
        type: 'string',
        choices: ['validation', 'last-train'],
        describe: "where a user's new token must score better: its validation rows (default, the paper's Eq. 11) or its last training example (validation stays held out)",
      })
      .option('alpha-seq', { type: 'number', describe: 'surrogate weight of NDCG@5 (default: 1)' })
      .option('alpha-exp', { type: 'number', describe: 'surrogate weight of ROUGE-L (default: 0.1)' })
      .option('beams', { type: 'number', describe: 'beams of the surrogate pass (default: 5)' })
      .option('criterion', { type: 'string', choices: ['surrogate', 'loss', 'full'], describe: 'selection criterion (default: surrogate)' })
      .option('epochs', {
        type: 'number',
        describe: 'maximum epochs per search (default: 50); with --resume it may be raised on purpose (stopped searches continue to it)',
      })
      .option('seed', { type: 'number', describe: 'slot choice, gradient sample and rendering seed (default: 2022)' })
      .option('max-users', { type: 'number', describe: 'use users 1..N only' })
      .option('device', { type: 'string', describe: 'cpu, cuda, cuda:N or auto (default: auto; may change on --resume)' })
      .option('dtype', { choices: dtypeOption.choices, describe: `${dtypeOption.describe} (default: fp32; may change on --resume)` })
      .option('streams', { type: 'number', describe: 'evaluation shards (CUDA streams; may change on --resume)' })
      .option('gradient-sample', { type: 'number', describe: 'training rows per task-gradient pass (default: all)' })
      .option('runs', { type: 'number', describe: 'test runs of the report (default: 5)' })
      .option('test-beams', { type: 'number', describe: 'beams of the report\'s test pass (default: 20, as paprec eval)' })
      .option('max-length', { type: 'number', describe: 'longest generation incl. the start token, selection and test (default: 50, as paprec eval)' })
      .option('out', { alias: 'o', type: 'string', describe: 'output folder' })
      .option('resume', { type: 'string', describe: 'continue the search saved in this folder (options given again must match, but --epochs may rise)' })
      .option('init', { type: 'string', describe: 'start the searches of its length from a soft prompt\'s projection (paprec soft-prompt file)' })
      .option('force', { type: 'boolean', default: false, describe: 'take over a stale lock of the output folder (a run killed with kill -9)' }) as unknown as Argv<SearchArgs>,
  handler: async (args) => {
    const out = args.resume ?? args.out;
    if (!out) throw new PaprecError('search: name the output folder with -o OUTDIR (or --resume OUTDIR)');
    if (!args.resume && !args.task) throw new PaprecError('search: --task is required (sequential, explanation or matching)');
    if (args.resume && args.out && args.out !== args.resume) throw new PaprecError(`search: --resume ${args.resume} and -o ${args.out} name different folders; give one`);
    const ac = new AbortController();
    const onSigint = () => {
      if (ac.signal.aborted) process.exit(130); // a second Ctrl-C: stop now (the last round's state is on disk)
      process.stderr.write('\nstopping after the current round (Ctrl-C again to quit now)...\n');
      ac.abort();
    };
    // Distributed (RANK / WORLD_SIZE set: torchrun, paprec launch): rank 0 alone locks and writes the folder.
    await withGroup(args.device, async (group) => {
      let lock: Awaited<ReturnType<typeof lockOutputDir>> | undefined;
      let failed: unknown;
      try {
        if (!group || group.isRoot) lock = await lockOutputDir(out, `paprec ${process.argv.slice(2).join(' ')}`, { force: args.force });
      } catch (err) {
        failed = err;
      }
      if (group) await group.settle('locking the output folder', failed);
      else if (failed) throw failed;
      process.on('SIGINT', onSigint);
      try {
        const given = {
          data: args.data,
          model: args.model,
          tokenizer: args.tokenizer,
          task: args.task,
          personalized: args.personalized,
          length: args.length,
          placement: args.placement as 'suffix' | 'prefix' | 'both' | undefined,
          userPosition: args['user-position'] as 'end' | 'start' | undefined,
          k: args.k,
          pool: args.pool,
          poolRows: args['pool-rows'],
          userAccept: args['user-accept'],
          alphaSeq: args['alpha-seq'],
          alphaExp: args['alpha-exp'],
          beams: args.beams,
          criterion: args.criterion,
          epochs: args.epochs,
          seed: args.seed,
          maxUsers: args['max-users'],
          device: args.device,
          dtype: args.dtype,
          streams: args.streams,
          gradientSample: args['gradient-sample'],
          runs: args.runs,
          testBeams: args['test-beams'],
          maxLength: args['max-length'],
          init: args.init,
        };
        // Only the options given on the command line: the rest take the paper's defaults (or, on --resume, the saved values).
        const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
        const r = await runSearch(
          { out, signal: ac.signal, ...defined, ...(args.resume ? { resume: true } : { task: args.task! }), ...(group ? { group } : {}) },
          !group || group.isRoot ? progressPrinter() : () => {},
        );
        if (r.interrupted) {
          process.stderr.write(`\nstopped; continue with: paprec search --resume ${out}\n`);
          process.exitCode = 130;
          return;
        }
        process.stderr.write('\n');
        if (!group || group.isRoot) process.stdout.write(`wrote ${out}/prompt.json, history.jsonl, report.md, report.json, surrogate.svg\n`);
      } finally {
        lock?.release();
        process.off('SIGINT', onSigint);
      }
    });
  },
};
