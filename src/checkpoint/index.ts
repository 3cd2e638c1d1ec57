/**
 * Checkpoints in and out. In: an HF-style folder (`config.json` + `model.safetensors`), a `.safetensors` file, or a
 * `torch.save` state dict (`.pth` / `.pt` / `.bin`, P5's released format). Out: an HF-style folder.
 * The native model receives the result as canonical float32 tensors (names from names.ts).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PaprecError, fail } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { type ConfigInput, type P5Config, PRESETS, resolveConfig, toHfConfig, validateConfig } from './config.js';
import { modelCard } from './modelCard.js';
import { type Tensor, canonicalizeStateDict, expectedTensors, tiedNames, validateStateDict } from './names.js';
import { readPth } from './pth.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export * from './config.js';
export * from './names.js';
export { modelCard } from './modelCard.js';
export {
  readSafetensors, writeSafetensors, encodeSafetensors, readSafetensorsHeader, parseSafetensorsHeader, type LoadedTensor,
} from './safetensors.js';
export { type FloatDtype } from './dtype.js';
export { readPth } from './pth.js';
export { unpickle, type PickleCallable, type UnpickleOptions } from './pickle.js';

export interface LoadedCheckpoint {
  config: P5Config;
  /** Canonical names (tied matrix once, as `shared.weight`), validated against `config`. */
  tensors: Map<string, Tensor>;
  /** The weights file read. */
  source: string;
}

export interface LoadOptions {
  /** The model config: a preset name, a config.json path, or an object. Wins over a config.json beside the weights. */
  config?: ConfigInput;
}

const TORCH_EXTENSIONS = ['.pth', '.pt', '.bin'];

async function statOrNull(p: string) {
  try {
    return await fsp.stat(p);
  } catch {
    return null;
  }
}

function howToGiveConfig(weights: string): string {
  return (
    `${weights}: no model config: put a config.json beside it or pass the config option ` +
    `(a preset name: ${Object.keys(PRESETS).join(', ')}; a config.json path; or an object)`
  );
}

async function configFor(weights: string, opts: LoadOptions): Promise<P5Config> {
  if (opts.config !== undefined) return resolveConfig(opts.config);
  const beside = path.join(path.dirname(weights), 'config.json');
  if (await statOrNull(beside)) return resolveConfig(beside);
  throw new PaprecError(howToGiveConfig(weights));
}

/** Find the weights file inside a checkpoint folder: model.safetensors, else a single torch.save file. */
async function weightsInDir(dir: string): Promise<string> {
  const st = path.join(dir, 'model.safetensors');
  if (await statOrNull(st)) return st;
  const torchFiles = (await fsp.readdir(dir)).filter((f) => TORCH_EXTENSIONS.includes(path.extname(f))).sort();
  if (torchFiles.length === 1) return path.join(dir, torchFiles[0]!);
  if (torchFiles.length > 1) fail(dir, `several torch checkpoints (${torchFiles.join(', ')}): name the one to load`);
  fail(dir, `no model.safetensors (or a .pth / .pt / .bin state dict) in this checkpoint folder`);
}

/** Load a checkpoint, resolve its config, canonicalise the tensor names and check them against the config. */
export async function loadCheckpoint(pathOrDir: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const st = await statOrNull(pathOrDir);
  if (!st) throw new PaprecError(`${pathOrDir}: checkpoint not found`);
  const weights = st.isDirectory() ? await weightsInDir(pathOrDir) : pathOrDir;
  const ext = path.extname(weights).toLowerCase();
  let raw: Map<string, Tensor>;
  if (ext === '.safetensors') raw = await readSafetensors(weights);
  else if (TORCH_EXTENSIONS.includes(ext)) raw = await readPth(weights);
  else fail(weights, `unknown checkpoint format "${ext}" (expected .safetensors, or a torch.save .pth / .pt / .bin)`);
  const config = await configFor(weights, opts);
  const tensors = canonicalizeStateDict(raw, weights, config);
  validateStateDict(tensors, config, weights);
  // Hand back plain {shape, data} in HF order, whatever extra fields the readers carried.
  const ordered = new Map<string, Tensor>();
  for (const name of expectedTensors(config).keys()) {
    const t = tensors.get(name)!;
    ordered.set(name, { shape: t.shape, data: t.data });
  }
  return { config, tensors: ordered, source: weights };
}

export interface SaveOptions {
  /** More files to write into the folder (e.g. a tokenizer), name -> content; written atomically too. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/**
 * Write an HF-style checkpoint folder: config.json (HF T5Config + P5 extras), model.safetensors holding every HF
 * name, the tied copies included, so HF `from_pretrained` and P5 code both read it, and a model card (README.md:
 * the family and shapes; an extra file of that name wins). `tensors` may use canonical or HF names; they are
 * validated against `config` first.
 */
export async function saveCheckpoint(
  dir: string,
  config: P5Config,
  tensors: Map<string, Tensor>,
  opts: SaveOptions = {},
): Promise<void> {
  for (const name of Object.keys(opts.extraFiles ?? {})) {
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') fail(dir, `extra file name "${name}" must be a plain file name`);
  }
  const c = validateConfig(config, `${dir}/config.json`);
  const canonical = canonicalizeStateDict(tensors, 'tensors to save', c);
  validateStateDict(canonical, c, 'tensors to save');
  const tied = new Set<string>(tiedNames(c));
  const shared = canonical.get('shared.weight')!;
  const all: [string, Tensor][] = [];
  for (const name of expectedTensors(c, { tiedCopies: true }).keys()) {
    all.push([name, tied.has(name) ? shared : canonical.get(name)!]);
  }
  await ensureDir(dir);
  const files = { 'README.md': modelCard(c), ...opts.extraFiles };
  for (const [name, content] of Object.entries(files)) {
    await writeFileAtomic(path.join(dir, name), content);
  }
  await writeSafetensors(path.join(dir, 'model.safetensors'), all);
  await writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(toHfConfig(c), null, 2)}\n`);
}
