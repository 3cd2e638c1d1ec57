/**
 * `paprec demo`: the whole pipeline on a fresh machine (synthetic data, its tokenizer, a tiny backbone, manual and
 * searched prompts, the paper's table and plots). Progress on stderr: a bar during pretraining and one status line
 * for the searches on a terminal; a line per stage and per epoch otherwise (nothing per step in logs).
 */
import cliProgress from 'cli-progress';
import * as path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { lockOutputDir } from '../util/lock.js';
import { DEFAULT_DEMO_DIR, DEFAULT_DEMO_SEED, runDemo, type DemoEvent, type DemoResult } from '../demo/pipeline.js';
import { formatScore as fmt } from '../util/format.js';
import { summaryText } from '../report/index.js';

interface DemoArgs {
  out: string;
  seed: number;
  quick: boolean;
  device: string;
  overwrite: boolean;
  force: boolean;
}

/** Turns demo events into stderr progress: in-place bar / status line on a TTY, sparse lines otherwise. */
export function demoProgress(stream: NodeJS.WriteStream = process.stderr): { onEvent: (e: DemoEvent) => void; stop: () => void } {
  const tty = stream.isTTY === true;
  const started = Date.now();
  const clock = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
  const bar = new cliProgress.SingleBar(
    { format: '  epoch {epoch}/{epochs} [{bar}] {value}/{total} | loss {loss} | {eps} ex/s', stream, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let barActive = false;
  let statusShown = '';
  let epochs = 0;
  const clearStatus = () => {
    if (tty && statusShown) stream.write('\r\x1b[K');
    statusShown = '';
  };
  const line = (text: string) => {
    if (barActive) {
      bar.stop();
      barActive = false;
    }
    clearStatus();
    stream.write(`${text}\n`);
  };
  const status = (text: string) => {
    if (!tty || text === statusShown) return;
    statusShown = text;
    stream.write(`\r\x1b[K${text.slice(0, Math.max(20, (stream.columns ?? 120) - 1))}`);
  };
  const onEvent = (e: DemoEvent) => {
    if (e.type === 'stage') {
      line(`[${e.step}/${e.steps}] ${clock()}  ${e.message}`);
    } else if (e.type === 'pretrain') {
      const p = e.event;
      if (p.type === 'start') {
        epochs = p.epochs;
        line(`        ${p.parameters.toLocaleString('en-US')} parameters, ${p.examplesPerEpoch} examples per epoch`);
      } else if (p.type === 'step' && tty) {
        const payload = { epoch: p.epoch + 1, epochs, loss: p.progress.loss.toFixed(3), eps: p.progress.examplesPerSecond.toFixed(0) };
        if (!barActive) {
          bar.start(p.progress.batches, p.progress.batch, payload);
          barActive = true;
        }
        bar.update(p.progress.batch, payload);
      } else if (p.type === 'epoch') {
        const v = p.validation;
        line(`        epoch ${p.epoch + 1}/${epochs}: train loss ${p.trainLoss.toFixed(3)}, validation HR@5 ${fmt(v.hr5)} NDCG@5 ${fmt(v.ndcg5)}${p.best ? ' (best)' : ''}, ${p.seconds.toFixed(0)} s`);
      }
    } else if (e.type === 'search') {
      const p = e.progress;
      if (p.type === 'info') line(`        note: ${p.message}`);
      else if (p.type === 'test') status(`        ${clock()}  test run ${p.run}/${p.runs}: ${p.kind}`);
      else if (p.step === 'done') line(`        search ${p.search}: validation surrogate ${fmt(p.best)} after ${p.epoch} epoch(s)`);
      else {
        const where = p.phase === 'user' ? 'user tokens' : p.slot !== undefined ? `slot ${p.slot}` : p.phase;
        status(`        ${clock()}  [${p.search}] epoch ${p.epoch}/${p.maxEpochs} ${where}: ${p.step} | current ${fmt(p.current)} best ${fmt(p.best)}`);
      }
    }
  };
  return {
    onEvent,
    stop: () => {
      if (barActive) bar.stop();
      barActive = false;
      clearStatus();
    },
  };
}

/** What the demo prints on stdout: every task's table, then where everything is. */
export function demoSummary(r: DemoResult, cwd = process.cwd()): string {
  const rel = (f: string) => {
    const r = path.relative(cwd, f);
    return r === '' ? '.' : r.startsWith('..') ? f : r;
  };
  const out: string[] = [];
  for (const t of r.tasks) {
    out.push(`== ${t.task} (test split) ==`, '', tableOf(t), '');
  }
  out.push(
    `Wrote ${rel(r.outDir)}/ in ${r.seconds.toFixed(0)} s:`,
    `  report      ${rel(path.join(r.outDir, 'report.md'))} (and report.json)`,
    `  plots       ${[path.join(r.outDir, 'pretrain.svg'), ...r.tasks.map((t) => path.join(t.dir, 'surrogate.svg'))].map(rel).join(', ')}`,
    `  prompts     ${r.tasks.map((t) => rel(path.join(t.dir, 'prompt.json'))).join(', ')}`,
    `  backbone    ${rel(r.modelDir)}/  data ${rel(r.dataDir)}/  tokenizer ${rel(r.tokenizerPath)}`,
  );
  return `${out.join('\n')}\n`;
}

/** The table as aligned text: rows = prompts, cells mean ± std, * = significant against the best manual prompt. */
function tableOf(t: DemoResult['tasks'][number]): string {
  const { report } = t;
  const head = ['prompt', ...report.metrics];
  const rows = report.rows.map((row) => [
    row.kind,
    ...report.metrics.map((m) => {
      const c = row.metrics[m];
      const text = summaryText(c);
      return c && text !== '–' ? `${text}${c.test?.significant ? ' *' : '  '}` : text;
    }),
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const fmtRow = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  const measured = Math.max(0, ...report.rows.map((row) => row.runsMeasured));
  const identical = report.rows.filter((row) => row.identical).map((row) => row.kind);
  const spread = identical.length === report.rows.length
    ? `every row identical in all ${measured} runs (${report.variation ?? 'nothing differs between them'}): one value each`
    : `mean ± std over ${measured} runs${identical.length > 0 ? `; identical in every run, one value: ${identical.join(', ')}` : ''}`;
  return [
    fmtRow(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(fmtRow),
    `${spread}; * p < ${report.alpha} (paired t-test over users against the best manual prompt)`,
  ].join('\n');
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Run PAP-REC end to end on built-in synthetic data: tokenizer, tiny backbone, searches, the table and plots',
  builder: (y: Argv) =>
    y
      .option('out', { alias: 'o', type: 'string', default: DEFAULT_DEMO_DIR, describe: 'output folder' })
      .option('seed', { type: 'number', default: DEFAULT_DEMO_SEED, describe: 'seed of the world, the backbone and the searches' })
      .option('quick', { type: 'boolean', default: false, describe: 'sequential only, fewer epochs (under 3 minutes on 2 cores)' })
      .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
      .option('overwrite', { type: 'boolean', default: false, describe: "replace the demo's files in a non-empty output folder" })
      .option('force', { type: 'boolean', default: false, describe: 'take over a stale lock of the output folder (a run killed with kill -9)' }) as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    const ac = new AbortController();
    const onSigint = () => {
      if (ac.signal.aborted) process.exit(130);
      process.stderr.write('\nstopping at the next safe point (Ctrl-C again to quit now)...\n');
      ac.abort();
    };
    const lock = await lockOutputDir(args.out, `paprec ${process.argv.slice(2).join(' ')}`, { force: args.force });
    process.on('SIGINT', onSigint);
    const progress = demoProgress();
    try {
      const r = await runDemo({ out: args.out, seed: args.seed, quick: args.quick, device: args.device, overwrite: args.overwrite, signal: ac.signal }, progress.onEvent);
      progress.stop();
      if (r.interrupted) {
        process.stderr.write(`stopped; the finished parts are in ${r.outDir}\n`);
        process.exitCode = 130;
        return;
      }
      process.stdout.write(`\n${demoSummary(r)}`);
    } finally {
      lock.release();
      progress.stop();
      process.off('SIGINT', onSigint);
    }
  },
};
