import type { Argv, CommandModule } from 'yargs';
import { PaprecError } from '../errors.js';
import { runSearch, type RunProgress } from '../search/run.js';

interface SearchArgs {
  data?: string;
  model?: string;
  tokenizer?: string;
  task?: string;
  personalized: boolean;
  length: string;
  placement: string;
  'user-position': string;
  k: number;
  'alpha-seq': number;
  'alpha-exp': number;
  beams: number;
  criterion: string;
  epochs: number;
  seed: number;
  'max-users'?: number;
  device: string;
  streams?: number;
  'gradient-sample'?: number;
  runs: number;
  out?: string;
  resume?: string;
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
      const what = p.step === 'scoring' && p.candidates ? `scoring ${p.candidates} candidate${p.candidates > 1 ? 's' : ''}` : p.step;
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
      .option('personalized', { type: 'boolean', default: false, describe: 'also search the per-user token [T_u]' })
      .option('length', { type: 'string', default: 'auto', describe: 'task tokens l: auto (5 and 6), a number, or a list to sweep (3,4,5,6,7)' })
      .option('placement', { type: 'string', default: 'suffix', choices: ['suffix', 'prefix', 'both'], describe: 'trigger tokens after / before the task argument' })
      .option('user-position', { type: 'string', default: 'end', choices: ['end', 'start'], describe: 'where [T_u] sits among the trigger tokens' })
      .option('k', { type: 'number', default: 5, describe: 'candidates per round' })
      .option('alpha-seq', { type: 'number', default: 1, describe: 'surrogate weight of NDCG@5' })
      .option('alpha-exp', { type: 'number', default: 0.1, describe: 'surrogate weight of ROUGE-L' })
      .option('beams', { type: 'number', default: 5, describe: 'beams of the surrogate pass' })
      .option('criterion', { type: 'string', default: 'surrogate', choices: ['surrogate', 'loss', 'full'], describe: 'selection criterion' })
      .option('epochs', { type: 'number', default: 50, describe: 'maximum epochs per search' })
      .option('seed', { type: 'number', default: 2022, describe: 'slot choice, gradient sample and rendering seed' })
      .option('max-users', { type: 'number', describe: 'use users 1..N only' })
      .option('device', { type: 'string', default: 'cpu', describe: 'cpu, cuda, cuda:N or auto' })
      .option('streams', { type: 'number', describe: 'evaluation shards (CUDA streams)' })
      .option('gradient-sample', { type: 'number', describe: 'training rows per task-gradient pass (default: all)' })
      .option('runs', { type: 'number', default: 5, describe: 'test runs of the report' })
      .option('out', { alias: 'o', type: 'string', describe: 'output folder' })
      .option('resume', { type: 'string', describe: 'continue the search saved in this folder' }) as unknown as Argv<SearchArgs>,
  handler: async (args) => {
    const out = args.resume ?? args.out;
    if (!out) throw new PaprecError('search: name the output folder with -o OUTDIR (or --resume OUTDIR)');
    if (!args.resume && !args.task) throw new PaprecError('search: --task is required (sequential, explanation or matching)');
    const ac = new AbortController();
    const onSigint = () => {
      if (ac.signal.aborted) process.exit(130); // a second Ctrl-C: stop now (the last round's state is on disk)
      process.stderr.write('\nstopping after the current round (Ctrl-C again to quit now)...\n');
      ac.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const r = await runSearch(
        {
          out,
          signal: ac.signal,
          ...(args.resume
            ? { resume: true, ...(args.device !== 'cpu' ? { device: args.device } : {}), ...(args.streams !== undefined ? { streams: args.streams } : {}) }
            : {
                data: args.data,
                model: args.model,
                tokenizer: args.tokenizer,
                task: args.task!,
                personalized: args.personalized,
                length: args.length,
                placement: args.placement as 'suffix' | 'prefix' | 'both',
                userPosition: args['user-position'] as 'end' | 'start',
                k: args.k,
                alphaSeq: args['alpha-seq'],
                alphaExp: args['alpha-exp'],
                beams: args.beams,
                criterion: args.criterion,
                epochs: args.epochs,
                seed: args.seed,
                maxUsers: args['max-users'],
                device: args.device,
                streams: args.streams,
                gradientSample: args['gradient-sample'],
                runs: args.runs,
              }),
        },
        progressPrinter(),
      );
      if (r.interrupted) {
        process.stderr.write(`\nstopped; continue with: paprec search --resume ${out}\n`);
        process.exitCode = 130;
        return;
      }
      process.stderr.write('\n');
      process.stdout.write(`wrote ${out}/prompt.json, history.jsonl, report.md, report.json, surrogate.svg\n`);
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
