/**
 * runSearch: a whole `paprec search` — check every option, load tokenizer / data / model, run each search (one per
 * prompt shape: lengths x placements, plus the personalized one), evaluate the manual and found prompts on the test
 * split, and write the output folder. Safe to stop at any time: the state is committed after every round and
 * `resume: true` continues from it.
 */
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Dataset, ExampleSet, Tokenizer } from '../types.js';
import { fail, PaprecError } from '../errors.js';
import { ensureDir, exists, removeStaleTemps, writeFileAtomic } from '../util/fs.js';
import { userEntries } from '../util/lock.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { loadDataset } from '../data/index.js';
import { resolveConfig } from '../checkpoint/index.js';
import { Backbone } from '../backbone/index.js';
import { modelSlotMask } from '../engine/index.js';
import { automatedPrompt } from '../prompts/automated.js';
import { readPromptFile } from '../prompts/promptFile.js';
import { mean } from '../metrics/index.js';
import { baselinePrompt } from '../prompts/manual.js';
import { buildExampleSet, subsetExampleSet } from '../prompts/exampleSet.js';
import type { AutomatedPrompt } from '../prompts/types.js';
import { checkAgainstVocabulary, resolveSearchOptions, type SearchOptions, type SearchOptionsInput } from './options.js';
import { ResidentExampleSet } from '../engine/index.js';
import { evaluatePrompts, makeScorer, metricNames, selectionDecoding, testDecoding, type Decoding, type PromptUnderTest, type ProtocolOptions } from '../protocol/index.js';
import { EngineBackend } from './backend.js';
import { poolSampleRows } from './pool.js';
import { PapRecSearch, type ProgressEvent } from './search.js';
import { appendHistory, readCommittedHistory, truncateHistory } from './history.js';
import {
  HISTORY_FILE,
  initialVariantState,
  loadState,
  reopenForEpochs,
  resumeOptions,
  saveState,
  statePath,
  variantSpecs,
  type RunInputs,
  type RunState,
  type VariantState,
} from './state.js';
import { automatedRows, RESULTS_FILE, writeReportFiles, type SearchResults } from './report.js';
import type { ProcessGroup } from '../dist/group.js';
import { ShardedBackend } from '../dist/backend.js';
import { rankDevice } from '../dist/env.js';
import { localExampleSet, shardRows } from '../dist/shard.js';
import { native } from '../native.js';

export interface RunSearchInput extends Partial<SearchOptionsInput> {
  data?: string;
  model?: string;
  tokenizer?: string;
  /** The output folder. */
  out: string;
  /**
   * Continue the search saved in `out`: options given again must equal the saved ones (each difference is refused by
   * name), except `device` and `streams`, which may change, and `epochs`, which may be raised.
   */
  resume?: boolean;
  /** Abort = stop at the next safe point (after the round in progress), state saved. */
  signal?: AbortSignal;
  /** Skip the test evaluation and report (tests, benchmarks). */
  skipTest?: boolean;
  /** A soft prompt file (`paprec soft-prompt`): the searches of its length start from its projection. */
  init?: string;
  /**
   * Distributed (src/dist): users sharded over the group's ranks; every rank takes the same decisions, rank 0 alone
   * writes the output folder (the others get its state through the group).
   */
  group?: ProcessGroup;
}

export type RunProgress =
  | ({ type: 'search' } & ProgressEvent)
  | { type: 'test'; run: number; runs: number; kind: string }
  | { type: 'info'; message: string };

export interface RunSearchResult {
  outDir: string;
  state: RunState;
  /** True when stopped by the signal before the end; `resume` continues. */
  interrupted: boolean;
  results?: SearchResults;
}

/** The model's vocabulary from its config.json, when one sits in or beside the checkpoint (no weights read). */
async function modelVocab(model: string): Promise<number | undefined> {
  const st = await fsp.stat(model).catch(() => null);
  if (!st) fail(model, 'checkpoint not found');
  const config = st.isDirectory() ? path.join(model, 'config.json') : path.join(path.dirname(model), 'config.json');
  if (!exists(config)) return undefined;
  return resolveConfig(config).vocabSize;
}

/** A fresh search writes only into an empty (or new) folder: never over a user's own prompt.json or report.md. */
async function refuseForeignFiles(out: string): Promise<void> {
  const st = await fsp.stat(out).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) fail(out, 'the output path exists and is not a folder');
  const entries = await userEntries(out);
  if (entries.length > 0) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, ... (${entries.length} entries)` : '');
    fail(out, `the output folder is not empty and holds no paprec search (${shown}): choose an empty or new folder`);
  }
}

function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}

interface Prepared {
  state: RunState;
  tokenizer: Tokenizer;
  dataset: Dataset;
  backbone: Backbone;
  group?: ProcessGroup;
}

async function prepare(input: RunSearchInput, report: (p: RunProgress) => void): Promise<Prepared> {
  let state: RunState | undefined;
  let opts: SearchOptions;
  let inputs: RunInputs;
  if (input.resume) {
    if (input.init) fail('search', '--init starts a fresh search; --resume continues from the saved state');
    state = await loadState(input.out);
    const given: Record<string, string | undefined> = { data: input.data, model: input.model, tokenizer: input.tokenizer };
    const moved = Object.entries(given).filter(([k, v]) => v !== undefined && path.resolve(v) !== state!.inputs[k as keyof RunInputs]);
    if (moved.length > 0) {
      fail(statePath(input.out), `--resume continues the saved search, whose inputs differ from the ones given: ${moved
        .map(([k, v]) => `--${k}: saved ${state!.inputs[k as keyof RunInputs]}, now ${path.resolve(v!)}`)
        .join('; ')}`);
    }
    opts = resumeOptions(state.options, input, statePath(input.out));
    inputs = state.inputs;
  } else {
    opts = resolveSearchOptions(input as SearchOptionsInput);
    if (!input.data || !input.model || !input.tokenizer) fail('search', 'needs --data, --model and --tokenizer');
    if (exists(statePath(input.out))) fail(input.out, 'already holds a search (state.json): pass --resume to continue it, or choose another folder');
    await refuseForeignFiles(input.out);
    inputs = { data: path.resolve(input.data), model: path.resolve(input.model), tokenizer: path.resolve(input.tokenizer) };
  }

  // Everything that can be checked without data or weights, first.
  const tokenizer = await loadTokenizer(inputs.tokenizer);
  const mask = tokenizer.wordStartMask();
  const vocab = { tokenizerVocab: tokenizer.vocabSize, wordStarts: countOnes(mask), tokenizerName: inputs.tokenizer, modelName: inputs.model };
  checkAgainstVocabulary(opts, { ...vocab, modelVocab: await modelVocab(inputs.model) });

  const dataset = await loadDataset(inputs.data, {
    ...(opts.maxUsers !== undefined ? { maxUsers: opts.maxUsers } : {}),
    onWarning: (message) => report({ type: 'info', message }),
  });
  if (opts.task === 'explanation' && !dataset.reviews) fail(inputs.data, 'the explanation task needs exp_splits.pkl (explanation data) in the data folder');

  const backbone = await loadBackbone(inputs.model, opts, input.group);
  checkAgainstVocabulary(opts, { ...vocab, modelVocab: backbone.config.vocabSize });
  report({ type: 'info', message: `backbone on ${backbone.device} in ${backbone.dtype}` });

  if (!state) {
    const numUsers = dataset.users.length;
    const start = input.init ? await initialTaskTokens(input.init, tokenizer, opts) : undefined;
    state = {
      version: 1,
      inputs,
      options: opts,
      variants: variantSpecs(opts).map((spec) => {
        const from = start && start.length === spec.length ? { taskTokens: start } : {};
        const p = automatedPrompt(tokenizer, { task: opts.task, length: spec.length, personalized: spec.personalized, numUsers, placement: spec.placement, userPosition: opts.userPosition, ...from });
        return initialVariantState(spec, { taskTokens: Array.from(p.taskTokens), ...(p.userTokens ? { userTokens: Array.from(p.userTokens) } : {}) });
      }),
      historyLength: 0,
      phase: 'search',
    };
    await ensureDir(input.out);
    await writeFileAtomic(path.join(input.out, HISTORY_FILE), '');
    await saveState(input.out, state);
  } else {
    state.options = opts;
    const reopened = reopenForEpochs(state);
    if (reopened > 0) report({ type: 'info', message: `--epochs raised to ${opts.epochs}: ${reopened} search(es) stopped at the old limit continue` });
    await removeStaleTemps(input.out);
    await truncateHistory(path.join(input.out, HISTORY_FILE), state.historyLength);
  }
  return { state, tokenizer, dataset, backbone };
}

/** The backbone on this rank's device (cuda:LOCAL_RANK where a group runs on CUDA). */
function loadBackbone(model: string, opts: SearchOptions, group: ProcessGroup | undefined): Promise<Backbone> {
  const device = rankDevice(opts.device, group?.env, group ? native().info().cudaDevices : 0);
  return Backbone.load(model, { device, dtype: opts.dtype ?? 'fp32' });
}

/**
 * prepare() across a group: rank 0 prepares (and alone touches the output folder), then hands its state to the
 * others, which load the same inputs; every rank goes on only if every rank's loading worked.
 */
async function prepareRun(input: RunSearchInput, report: (p: RunProgress) => void): Promise<Prepared> {
  const g = input.group;
  if (!g) return prepare(input, report);
  let p: Prepared | undefined;
  let err: unknown;
  if (g.isRoot) {
    try {
      p = await prepare(input, report);
    } catch (e) {
      err = e;
    }
    await g.broadcastJson(err === undefined ? { state: p!.state } : { error: (err as Error).message });
    if (err !== undefined) throw err; // the others throw on the message: nobody waits in settle()
  } else {
    const sent = await g.broadcastJson<{ state?: RunState; error?: string }>(undefined);
    if (sent.error !== undefined) throw new PaprecError(`rank ${g.rank}: rank 0 could not start the search: ${sent.error}`);
    try {
      p = await follow(sent.state!, input, report);
    } catch (e) {
      err = e;
    }
  }
  try {
    await g.settle('loading the data and the model', err);
  } catch (e) {
    await p?.backbone.dispose();
    throw e;
  }
  return p!;
}

/** A rank other than 0: rank 0's state, the same inputs loaded, nothing written. */
async function follow(state: RunState, input: RunSearchInput, report: (p: RunProgress) => void): Promise<Prepared> {
  const opts = state.options;
  const tokenizer = await loadTokenizer(state.inputs.tokenizer);
  const dataset = await loadDataset(state.inputs.data, { ...(opts.maxUsers !== undefined ? { maxUsers: opts.maxUsers } : {}), onWarning: () => {} });
  const backbone = await loadBackbone(state.inputs.model, opts, input.group);
  report({ type: 'info', message: `rank ${input.group!.rank}: backbone on ${backbone.device} in ${backbone.dtype}` });
  return { state, tokenizer, dataset, backbone };
}

/** --init: the projection of a soft prompt file, refused unless some search has its length. */
async function initialTaskTokens(init: string, tokenizer: Tokenizer, opts: SearchOptions): Promise<Int32Array> {
  const tokens = (await readPromptFile(init.includes('#') ? init : `${init}#projected`, tokenizer, { task: opts.task })).taskTokens;
  if (!opts.lengths.includes(tokens.length)) fail(init, `--init holds ${tokens.length} task tokens, the search's lengths are ${opts.lengths.join(', ')}: pass --length ${tokens.length}`);
  return tokens;
}

function promptOf(tokenizer: Tokenizer, state: RunState, v: VariantState, tokens = v.best): AutomatedPrompt {
  return automatedPrompt(tokenizer, {
    task: state.options.task,
    length: v.spec.length,
    personalized: v.spec.personalized,
    placement: v.spec.placement,
    userPosition: state.options.userPosition,
    taskTokens: tokens.taskTokens,
    ...(tokens.userTokens ? { userTokens: tokens.userTokens, numUsers: tokens.userTokens.length } : {}),
  });
}

/**
 * Each rank's rows of a search's sets (users sharded by rank). Refused where a rank would have no training rows:
 * its slot gradients would be empty, so fewer processes are the answer.
 */
function shardSets(group: ProcessGroup, sets: { val: ExampleSet; train: ExampleSet; pool?: ExampleSet; check?: ExampleSet }) {
  const part = (set: ExampleSet) => {
    const shard = shardRows(set.userIndex, group.world, group.rank);
    return { shard, set: localExampleSet(set, shard) };
  };
  const train = part(sets.train);
  const empty = train.shard.rows.findIndex((r) => r.length === 0);
  if (empty >= 0) {
    fail('search', `rank ${empty} of ${group.world} would get no training rows (${sets.train.numUsers} users, ${sets.train.size} rows): run with fewer processes`);
  }
  return { val: part(sets.val), train, ...(sets.pool ? { pool: part(sets.pool) } : {}), ...(sets.check ? { check: part(sets.check) } : {}) };
}

/** One search of the run, on its own resident training and validation sets. */
async function searchVariant(
  p: Prepared,
  v: VariantState,
  outDir: string,
  shouldStop: () => boolean | Promise<boolean>,
  report: (e: RunProgress) => void,
): Promise<'done' | 'interrupted'> {
  const { state, tokenizer, dataset, backbone } = p;
  const opts = state.options;
  const prompt = promptOf(tokenizer, state, v, v.current);
  const common = { task: opts.task, prompt, seed: opts.seed, ...(opts.maxUsers !== undefined ? { maxUsers: opts.maxUsers } : {}) };
  const valSet = buildExampleSet(dataset, tokenizer, { ...common, split: 'val' });
  const trainSet = buildExampleSet(dataset, tokenizer, { ...common, split: 'train' });
  if (trainSet.size === 0) fail(state.inputs.data, `no ${opts.task} training examples: the slot gradients need some`);
  if (valSet.size === 0) fail(state.inputs.data, `no ${opts.task} validation examples`);
  const upload = {
    slotMask: modelSlotMask(tokenizer.wordStartMask(), backbone.config.vocabSize),
    defaultToken: prompt.defaultUserToken,
    vocabLimit: tokenizer.vocabSize,
    ...(opts.streams !== undefined ? { streams: opts.streams } : {}),
  };
  const group = p.group;
  // A pool of B > k candidates is ranked on a seeded sample of training rows, uploaded once per search.
  const poolSet = opts.pool !== undefined
    ? subsetExampleSet(trainSet, poolSampleRows(trainSet.userIndex, trainSet.numUsers, opts.poolRows!, opts.seed, v.spec.name))
    : undefined;
  // --user-accept last-train: each user's last training row, decoded like validation, judges the per-user acceptance.
  const checkSet = opts.userAccept === 'last-train' && v.spec.personalized ? subsetExampleSet(trainSet, lastRowOfEachUser(trainSet.userIndex)) : undefined;
  const parts = group ? shardSets(group, { val: valSet, train: trainSet, ...(poolSet ? { pool: poolSet } : {}), ...(checkSet ? { check: checkSet } : {}) }) : undefined;
  const resident = (set: ExampleSet | undefined) => (set && set.size > 0 ? ResidentExampleSet.upload(backbone, set, upload) : undefined);
  const val = resident(parts ? parts.val.set : valSet);
  const train = resident(parts ? parts.train.set : trainSet)!;
  const poolRows = resident(parts ? parts.pool?.set : poolSet);
  const checkRows = resident(parts ? parts.check?.set : checkSet);
  try {
    const decoding = selectionDecoding(opts.task, opts.criterion, opts);
    const sample = opts.gradientSample !== undefined ? { gradientSample: opts.gradientSample } : {};
    const backend = group && parts
      ? new ShardedBackend({
        group,
        val: { resident: val, shard: parts.val.shard },
        train: { resident: train, shard: parts.train.shard },
        valSet,
        decoding,
        tokenizer,
        ...sample,
        ...(poolSet && parts.pool ? { pool: { resident: poolRows, shard: parts.pool.shard, userIndex: poolSet.userIndex } } : {}),
        ...(checkSet && parts.check
          ? { check: { resident: checkRows, shard: parts.check.shard, userIndex: checkSet.userIndex, scorer: makeScorer(opts.task, opts.criterion, opts, checkSet.references) } }
          : {}),
      })
      : new EngineBackend({
        val: val!,
        train,
        valSet,
        decoding,
        tokenizer,
        ...sample,
        ...(poolSet && poolRows ? { pool: { rows: poolRows, userIndex: poolSet.userIndex } } : {}),
        ...(checkSet && checkRows
          ? { check: { rows: checkRows, userIndex: checkSet.userIndex, scorer: makeScorer(opts.task, opts.criterion, opts, checkSet.references) } }
          : {}),
      });
    const historyFile = path.join(outDir, HISTORY_FILE);
    const search = new PapRecSearch({
      backend,
      scorer: makeScorer(opts.task, opts.criterion, opts, valSet.references),
      opts,
      state: v,
      tokenText: (id) => tokenizer.idToPiece(id) ?? `<${id}>`,
      commit: async (record) => {
        // Every rank counts the line; rank 0 alone writes (the others hold the same state in memory).
        if (!group || group.isRoot) await appendHistory(historyFile, record);
        state.historyLength++;
        if (!group || group.isRoot) await saveState(outDir, state);
      },
      shouldStop,
      onProgress: (e) => report({ type: 'search', ...e }),
    });
    const r = await search.run();
    if (!group || group.isRoot) await saveState(outDir, state);
    return r;
  } finally {
    await val?.dispose();
    await train.dispose();
    await poolRows?.dispose();
    await checkRows?.dispose();
  }
}

/** The last row of each user (in set order: the latest training window, or the last training review), ascending. */
export function lastRowOfEachUser(userIndex: Int32Array): Int32Array {
  const last = new Map<number, number>();
  userIndex.forEach((u, row) => last.set(u, row));
  return Int32Array.from([...last.values()].sort((a, b) => a - b));
}

/** The table's prompts: P5's seen and unseen manual prompts and the searched ones. */
function promptsUnderTest(p: Prepared): PromptUnderTest[] {
  const { state, tokenizer } = p;
  const task = state.options.task;
  const seen = baselinePrompt({ task, kind: 'seen' });
  const unseen = baselinePrompt({ task, kind: 'unseen' });
  const out: PromptUnderTest[] = [
    { kind: 'seen manual', prompt: seen, text: `${seen.id}: ${seen.template}` },
    { kind: 'unseen manual', prompt: unseen, text: `${unseen.id}: ${unseen.template}` },
  ];
  for (const { kind, variant } of automatedRows(state)) {
    const pieces = variant.best.taskTokens.map((id) => tokenizer.idToPiece(id) ?? `<${id}>`).join(' ');
    out.push({ kind, prompt: promptOf(tokenizer, state, variant), text: `${variant.spec.name}: ${pieces}${variant.spec.personalized ? ' [T_u]' : ''}` });
  }
  return out;
}

/** The decoding of a search's test table: the test protocol at the search's --test-beams and --max-length. */
export function searchTestDecoding(opts: SearchOptions): Decoding {
  return testDecoding(opts.task, { ...(opts.testBeams !== undefined ? { beams: opts.testBeams } : {}), maxLength: opts.maxLength });
}

/** Run (or resume) a PAP-REC search into `input.out`; `onProgress` sees every step. */
export async function runSearch(input: RunSearchInput, onProgress?: (p: RunProgress) => void): Promise<RunSearchResult> {
  const report = onProgress ?? (() => {});
  const g = input.group;
  const p = { ...(await prepareRun(input, report)), ...(g ? { group: g } : {}) };
  const stopAsked = () => input.signal?.aborted === true;
  // Distributed: every rank stops at the same round, when any rank was asked to.
  const shouldStop = g ? () => g.any(stopAsked()) : stopAsked;
  const root = !g || g.isRoot;
  const writeReport = async (...args: Parameters<typeof writeReportFiles>) => (root ? writeReportFiles(...args) : undefined);
  const outDir = input.out;
  try {
    for (const v of p.state.variants) {
      if (v.status === 'done') continue;
      if ((await searchVariant(p, v, outDir, shouldStop, report)) === 'interrupted') {
        await writeReport(outDir, p.state, p.tokenizer);
        return { outDir, state: p.state, interrupted: true };
      }
      await writeReport(outDir, p.state, p.tokenizer);
    }
    if (input.skipTest) return { outDir, state: p.state, interrupted: false };

    p.state.phase = 'test';
    if (root) await saveState(outDir, p.state);
    const opts = p.state.options;
    const protocol: ProtocolOptions = {
      backbone: p.backbone,
      dataset: p.dataset,
      tokenizer: p.tokenizer,
      task: opts.task,
      split: 'test',
      runs: opts.runs,
      seed: opts.seed,
      decoding: searchTestDecoding(opts),
      ...(opts.maxUsers !== undefined ? { maxUsers: opts.maxUsers } : {}),
      ...(opts.streams !== undefined ? { streams: opts.streams } : {}),
      onRun: (e) => report({ type: 'test', run: e.run, runs: e.runs, kind: e.kind }),
      shouldStop,
      ...(g ? { group: g } : {}),
    };
    const tested = await evaluatePrompts(protocol, promptsUnderTest(p));
    if (tested.interrupted) return { outDir, state: p.state, interrupted: true };
    const prompts = tested.rows;
    const results: SearchResults = { task: opts.task, prompts };
    if (opts.sweep) {
      results.lengths = [];
      for (const t of prompts) {
        const row = automatedRows(p.state).find((r) => r.kind === t.kind);
        if (!row || row.variant.spec.personalized) continue;
        const metrics: Record<string, number> = {};
        for (const m of metricNames(opts.task)) metrics[m] = mean(t.runs.map((r) => r.metrics[m]!));
        results.lengths.push({ length: row.variant.spec.length, placement: row.variant.spec.placement, metrics });
      }
      results.lengths.sort((a, b) => a.length - b.length);
    }
    p.state.phase = 'done';
    if (root) {
      await writeFileAtomic(path.join(outDir, RESULTS_FILE), `${JSON.stringify(results)}\n`);
      await saveState(outDir, p.state);
    }
    await writeReport(outDir, p.state, p.tokenizer, results);
    return { outDir, state: p.state, interrupted: false, results };
  } finally {
    await p.backbone.dispose();
  }
}

/** `paprec report OUTDIR`: rebuild report.md / report.json / the plots from state.json and results.json. */
export async function rebuildReport(outDir: string): Promise<void> {
  const state = await loadState(outDir);
  await readCommittedHistory(path.join(outDir, HISTORY_FILE), state.historyLength);
  const tokenizer = await loadTokenizer(state.inputs.tokenizer);
  const { readResults } = await import('./report.js');
  const results = state.phase === 'done' ? await readResults(outDir) : undefined;
  if (!results) throw new PaprecError(`${outDir}: the search has not finished its test evaluation; continue it with \`paprec search --resume ${outDir}\``);
  await writeReportFiles(outDir, state, tokenizer, results);
}
