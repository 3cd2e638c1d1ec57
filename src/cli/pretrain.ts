import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { joinFromEnv } from '../dist/join.js';
import { isRoot } from '../dist/roles.js';
import { dtypeOption, type CliDtype } from './dtype.js';
import { PaprecError } from '../errors.js';
import { PRESETS } from '../checkpoint/index.js';
import { KEEP_BEST_BY, OPTIMIZERS, pretrain, type KeepBestBy, type Optimizer, type PretrainEvent, type PretrainTask, PRETRAIN_TASKS } from '../train/index.js';
import type { Task } from '../types.js';
import { lockOutputDir } from '../util/lock.js';

interface PretrainArgs {
  data: string;
  tokenizer: string;
  config?: string;
  init?: string;
  dropout?: number;
  'whole-word'?: boolean;
  epochs: number;
  batch: number;
  lr: number;
  tasks: string;
  'max-users'?: number;
  device: string;
  bf16?: boolean;
  dtype: CliDtype;
  seed: number;
  overwrite: boolean;
  resume: boolean;
  'warmup-ratio': number;
  'weight-decay': number;
  'clip-norm': number;
  optimizer: Optimizer;
  'train-history': number;
  'keep-best-by': KeepBestBy;
  'windows-per-user': number;
  'matching-per-user': number;
  'matching-candidates'?: number;
  'val-users': number;
  'val-beams': number;
  out: string;
  force: boolean;
}

function parseTasks(text: string): PretrainTask[] {
  const tasks = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of tasks) {
    if (!(PRETRAIN_TASKS as readonly string[]).includes(t)) throw new PaprecError(`--tasks: unknown task "${t}"; known: ${PRETRAIN_TASKS.join(', ')}`);
  }
  return tasks as PretrainTask[];
}

/** A progress bar on stderr: loss and examples/s per step, one summary line per epoch. */
function progressBar(): { onEvent: (e: PretrainEvent) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: 'epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {eps} ex/s | lr {lr}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  const onEvent = (e: PretrainEvent) => {
    if (e.type === 'start') {
      process.stderr.write(`pretrain: ${e.parameters.toLocaleString('en-US')} parameters on ${e.device} in ${e.dtype}, ${e.examplesPerEpoch} examples / ${e.stepsPerEpoch} steps per epoch\n`);
    } else if (e.type === 'step') {
      const p = e.progress;
      const payload = { epoch: e.epoch + 1, loss: p.loss.toFixed(4), eps: p.examplesPerSecond.toFixed(0), lr: p.lr.toExponential(2) };
      if (!active) {
        bar.start(p.batches, p.batch, payload);
        active = true;
      }
      bar.update(p.batch, payload);
    } else if (e.type === 'epoch') {
      if (active) bar.stop();
      active = false;
      const v = e.validation;
      const metrics = v.hr5 !== undefined ? ` HR@5 ${v.hr5.toFixed(4)} NDCG@5 ${(v.ndcg5 ?? 0).toFixed(4)}` : '';
      process.stderr.write(
        `epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}, validation loss ${v.loss.toFixed(4)}${metrics}, ` +
          `${e.examplesPerSecond.toFixed(0)} ex/s, ${e.seconds.toFixed(0)} s${e.best ? ' (best, saved)' : ''}\n`,
      );
    } else if (e.type === 'stopped') {
      if (active) bar.stop();
      active = false;
      process.stderr.write(`stopped at epoch ${e.epoch + 1}, batch ${e.batch} (step ${e.step}); state saved: continue with --resume\n`);
    }
  };
  return { onEvent, stop: () => active && bar.stop() };
}

/** `paprec pretrain`: train a P5 backbone on a P5 data folder (multi-task, seen prompts only). */
export const pretrainCommand: CommandModule<object, PretrainArgs> = {
  command: 'pretrain',
  describe: 'Train a P5 backbone on a P5 data folder (sequential / matching / explanation, seen prompts only)',
  builder: (y: Argv) =>
    y
      .option('data', { type: 'string', demandOption: true, describe: 'P5 data folder' })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'tokenizer.json or spiece.model' })
      .option('config', {
        type: 'string',
        describe: `a preset (${Object.keys(PRESETS).join(' | ')}: T5 v1.0 for p5-*, gated-GELU with an untied head for the others; vocabulary from the tokenizer) or a config.json (default: p5-tiny, or --init's model)`,
      })
      .option('init', {
        type: 'string',
        describe: "start from this backbone's weights (e.g. an earlier pretrain's folder: a curriculum's next stage) instead of a random initialisation; the optimizer starts fresh",
      })
      .option('dropout', { type: 'number', describe: "dropout rate, replacing the config's (default: the config's, 0.1 for presets)" })
      .option('whole-word', {
        type: 'boolean',
        describe: "P5's whole-word embeddings (default: the config's, on for presets); --no-whole-word trains a plain T5",
      })
      .option('epochs', { type: 'number', default: 10 })
      .option('batch', { type: 'number', default: 128, describe: 'examples per step' })
      .option('lr', { type: 'number', default: 1e-3, describe: 'peak learning rate' })
      .option('optimizer', {
        type: 'string',
        choices: OPTIMIZERS,
        default: 'adamw',
        describe: "adamw | adamw-scale (nanoT5's: each tensor's step relative to its RMS; use a larger lr, ~1e-2)",
      })
      .option('tasks', { type: 'string', default: 'sequential,matching', describe: `comma-separated: ${PRETRAIN_TASKS.join(', ')}` })
      .option('max-users', { type: 'number', describe: 'train on users 1..N only' })
      .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
      .option('dtype', { ...dtypeOption, describe: `${dtypeOption.describe}: bf16 = autocast over fp32 weights` })
      .option('bf16', { type: 'boolean', hidden: true, describe: 'same as --dtype bf16' })
      .option('seed', { type: 'number', default: 1 })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace a non-empty output folder' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the run saved in the output folder' })
      .option('warmup-ratio', { type: 'number', default: 0.05, describe: 'linear warm-up, as a fraction of all steps' })
      .option('weight-decay', { type: 'number', default: 0.01 })
      .option('clip-norm', { type: 'number', default: 1.0, describe: 'gradient-norm clip (0: off)' })
      .option('windows-per-user', { type: 'number', default: 1, describe: 'sequential training windows per user per epoch' })
      .option('matching-per-user', { type: 'number', default: 1, describe: 'matching training examples per user per epoch' })
      .option('matching-candidates', { type: 'number', describe: 'candidates in a training matching list, target included (default: all 100; evaluation always lists all)' })
      .option('train-history', { type: 'number', default: 20, describe: "most recent items kept in a training window's history" })
      .option('val-users', { type: 'number', default: 1000, describe: 'users in the validation sample' })
      .option('val-beams', { type: 'number', default: 5, describe: 'beams for validation HR@5 / NDCG@5 (0: loss only)' })
      .option('keep-best-by', {
        type: 'string',
        choices: KEEP_BEST_BY,
        default: 'surrogate',
        describe: 'what picks the kept epoch: validation HR@5 + NDCG@5 (ties: loss), or the loss alone',
      })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'output folder' })
      .option('force', { type: 'boolean', default: false, describe: 'take over a stale lock of the output folder (a run killed with kill -9)' }) as unknown as Argv<PretrainArgs>,
  handler: async (args) => {
    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts += 1;
      if (interrupts > 1) process.exit(130);
      process.stderr.write('\ninterrupt: stopping after this step and saving the state (Ctrl-C again to quit now)\n');
      controller.abort();
    };
    // Distributed (RANK / WORLD_SIZE set: torchrun, paprec launch): data-parallel; rank 0 alone locks, prints, writes.
    const group = await joinFromEnv(args.device);
    const lock = isRoot({ group }) ? await lockOutputDir(args.out, `paprec ${process.argv.slice(2).join(' ')}`, { force: args.force }) : undefined;
    process.on('SIGINT', onSigint);
    const bar = isRoot({ group }) ? progressBar() : { onEvent: () => {}, stop: () => {} };
    try {
      const r = await pretrain(
        {
          data: args.data,
          tokenizer: args.tokenizer,
          ...(args.init !== undefined ? { init: args.init } : {}),
          ...(args.config !== undefined || args.init === undefined ? { config: args.config ?? 'p5-tiny' } : {}),
          ...(args.dropout !== undefined ? { dropout: args.dropout } : {}),
          ...(args['whole-word'] !== undefined ? { wholeWordEmbeddings: args['whole-word'] } : {}),
          out: args.out,
          epochs: args.epochs,
          batchSize: args.batch,
          lr: args.lr,
          tasks: parseTasks(args.tasks),
          ...(args['max-users'] !== undefined ? { maxUsers: args['max-users'] } : {}),
          device: args.device,
          dtype: args.bf16 ? 'bf16' : args.dtype,
          seed: args.seed,
          overwrite: args.overwrite,
          resume: args.resume,
          warmupRatio: args['warmup-ratio'],
          weightDecay: args['weight-decay'],
          clipNorm: args['clip-norm'],
          optimizer: args.optimizer,
          sequentialPerUser: args['windows-per-user'],
          trainHistory: args['train-history'],
          matchingPerUser: args['matching-per-user'],
          ...(args['matching-candidates'] !== undefined ? { matchingCandidates: args['matching-candidates'] } : {}),
          keepBestBy: args['keep-best-by'],
          validationUsers: args['val-users'],
          validationBeams: args['val-beams'],
          signal: controller.signal,
          ...(group ? { group } : {}),
        },
        bar.onEvent,
      ).catch(async (err) => Promise.reject(group ? await group.explain(err) : err));
      await group?.close();
      const best = r.best ? `best epoch ${r.best.epoch + 1} (validation loss ${r.best.validation.loss.toFixed(4)})` : 'no epoch finished';
      if (isRoot({ group })) process.stdout.write(`${r.completed ? 'trained' : 'stopped'}: ${r.outDir}, ${best}\n`);
      if (!r.completed) process.exitCode = 130;
    } finally {
      lock?.release();
      bar.stop();
      process.off('SIGINT', onSigint);
    }
  },
};
