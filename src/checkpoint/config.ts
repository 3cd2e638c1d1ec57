/**
 * The P5 model configuration: T5 dimensions plus P5's whole-word embeddings (REFERENCE.md §1). The T5 family:
 * v1.0 (P5: ReLU feed-forward, tied head rescaled by d_model^-0.5) and v1.1 / Flan-T5 (gated-GELU feed-forward,
 * usually an untied head without the rescale).
 *
 * Three ways in: a preset name (`p5-small`, `p5-base`, `p5-mini`, `p5-tiny`, `t5-v1_1-tiny`, `t5-v1_1-small`,
 * `flan-t5-small`), an object (camelCase `P5Config` fields, or a parsed HF `config.json`), or a path to an HF
 * `config.json` (or a folder holding one).
 * One way out: `toHfConfig`, the HF T5Config JSON with P5's extra keys, so HF tooling can read what we write.
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { PaprecError, fail } from '../errors.js';
import { expectedTensors } from './names.js';

/**
 * The feed-forward, in HF's `feed_forward_proj` spelling: `relu` (T5 v1.0, P5) is `wo(relu(wi x))`; `gated-gelu`
 * (T5 v1.1, Flan-T5) is `wo(gelu_new(wi_0 x) * wi_1 x)` with GELU's tanh form; `gated-relu` the same with ReLU;
 * `gelu_new` the ungated form with GELU's tanh form.
 */
export type FeedForwardProj = 'relu' | 'gated-gelu' | 'gated-relu' | 'gelu_new';
export const FEED_FORWARD_PROJS: readonly FeedForwardProj[] = ['relu', 'gated-gelu', 'gated-relu', 'gelu_new'];

export interface P5Config {
  vocabSize: number;
  dModel: number;
  /** Width of one attention head; the attention inner dimension is numHeads * dKv. */
  dKv: number;
  dFf: number;
  numHeads: number;
  /** Encoder blocks. */
  numLayers: number;
  numDecoderLayers: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  layerNormEpsilon: number;
  /** Used in training mode only. */
  dropoutRate: number;
  /** P5's `encoder.whole_word_embeddings` table, added to the encoder's token embeddings. */
  wholeWordEmbeddings: boolean;
  wholeWordSize: number;
  padTokenId: number;
  eosTokenId: number;
  decoderStartTokenId: number;
  feedForwardProj: FeedForwardProj;
  /** true: `lm_head` is the token embedding, applied after T5's d_model^-0.5 rescale; false: a separate `lm_head.weight`. */
  tieWordEmbeddings: boolean;
}

/** T5's fixed choices, shared by every preset. */
const T5_V1_0_DEFAULTS = {
  relativeAttentionNumBuckets: 32,
  relativeAttentionMaxDistance: 128,
  layerNormEpsilon: 1e-6,
  dropoutRate: 0.1,
  wholeWordEmbeddings: true,
  wholeWordSize: 512,
  padTokenId: 0,
  eosTokenId: 1,
  decoderStartTokenId: 0,
  feedForwardProj: 'relu' as FeedForwardProj,
  tieWordEmbeddings: true,
};

/** P5 resizes T5's 32,128-token vocabulary to 32,100. */
export const P5_VOCAB_SIZE = 32100;
/** T5 v1.1 / Flan-T5 keep 32,128 embedding rows for the 32,100-piece tokenizer (the extra rows are never used). */
export const T5_V1_1_VOCAB_SIZE = 32128;

function preset(dims: Pick<P5Config, 'dModel' | 'dKv' | 'dFf' | 'numHeads' | 'numLayers'>): P5Config {
  return { ...T5_V1_0_DEFAULTS, vocabSize: P5_VOCAB_SIZE, ...dims, numDecoderLayers: dims.numLayers };
}

/**
 * T5 v1.1 / Flan-T5 shapes (HF google/t5-v1_1-small, google/flan-t5-small: the same architecture, Flan is a
 * fine-tune): gated-GELU, untied head, 32,128 rows. Whole-word embeddings stay on, so a from-scratch P5 on this
 * backbone gets P5's encoder input (--no-whole-word, or wholeWordEmbeddings: false, for the plain HF model).
 */
function presetV11(dims: Pick<P5Config, 'dModel' | 'dKv' | 'dFf' | 'numHeads' | 'numLayers'> & Partial<P5Config>): P5Config {
  return {
    ...T5_V1_0_DEFAULTS,
    vocabSize: T5_V1_1_VOCAB_SIZE,
    feedForwardProj: 'gated-gelu',
    tieWordEmbeddings: false,
    numDecoderLayers: dims.numLayers,
    ...dims,
  };
}

export const PRESETS: Readonly<Record<string, Readonly<P5Config>>> = Object.freeze({
  'p5-small': preset({ dModel: 512, dKv: 64, dFf: 2048, numHeads: 8, numLayers: 6 }),
  'p5-base': preset({ dModel: 768, dKv: 64, dFf: 3072, numHeads: 12, numLayers: 12 }),
  'p5-mini': preset({ dModel: 256, dKv: 32, dFf: 1024, numHeads: 8, numLayers: 4 }),
  'p5-tiny': preset({ dModel: 128, dKv: 32, dFf: 512, numHeads: 4, numLayers: 2 }),
  // num_heads * d_kv (4 * 24 = 96) differs from d_model, as in the v1.1 fixtures.
  't5-v1_1-tiny': presetV11({ dModel: 128, dKv: 24, dFf: 256, numHeads: 4, numLayers: 2 }),
  't5-v1_1-small': presetV11({ dModel: 512, dKv: 64, dFf: 1024, numHeads: 6, numLayers: 8 }),
  'flan-t5-small': presetV11({ dModel: 512, dKv: 64, dFf: 1024, numHeads: 6, numLayers: 8 }),
});

/** Which T5 family a config belongs to, for model cards and messages. */
export function modelFamily(config: P5Config): string {
  const base =
    config.feedForwardProj === 'relu' && config.tieWordEmbeddings
      ? 'T5 v1.0 (ReLU feed-forward, tied head)'
      : `T5 v1.1 / Flan-T5 style (${config.feedForwardProj} feed-forward, ${config.tieWordEmbeddings ? 'tied head rescaled by d_model^-0.5' : 'untied lm_head'})`;
  return config.wholeWordEmbeddings ? `P5 on ${base} with whole-word embeddings` : base;
}

export type ConfigInput = string | Partial<P5Config> | Record<string, unknown>;

const POSITIVE_INTEGER_FIELDS = [
  'vocabSize', 'dModel', 'dKv', 'dFf', 'numHeads', 'numLayers', 'numDecoderLayers',
  'relativeAttentionNumBuckets', 'relativeAttentionMaxDistance', 'wholeWordSize',
] as const;
const TOKEN_ID_FIELDS = ['padTokenId', 'eosTokenId', 'decoderStartTokenId'] as const;

/** camelCase field -> HF key, used for error messages about config.json files and for writing. */
const HF_KEY: Record<keyof P5Config, string> = {
  vocabSize: 'vocab_size',
  dModel: 'd_model',
  dKv: 'd_kv',
  dFf: 'd_ff',
  numHeads: 'num_heads',
  numLayers: 'num_layers',
  numDecoderLayers: 'num_decoder_layers',
  relativeAttentionNumBuckets: 'relative_attention_num_buckets',
  relativeAttentionMaxDistance: 'relative_attention_max_distance',
  layerNormEpsilon: 'layer_norm_epsilon',
  dropoutRate: 'dropout_rate',
  wholeWordEmbeddings: 'whole_word_embeddings',
  wholeWordSize: 'whole_word_size',
  padTokenId: 'pad_token_id',
  eosTokenId: 'eos_token_id',
  decoderStartTokenId: 'decoder_start_token_id',
  feedForwardProj: 'feed_forward_proj',
  tieWordEmbeddings: 'tie_word_embeddings',
};

/**
 * Check every field of a complete config; `source` names where it came from, `hfKeys` switches the field names in
 * messages to the config.json spelling. Returns a frozen copy holding exactly the P5Config fields.
 */
export function validateConfig(config: P5Config, source: string, hfKeys = false): P5Config {
  const key = (k: keyof P5Config) => (hfKeys ? HF_KEY[k] : k);
  for (const k of POSITIVE_INTEGER_FIELDS) {
    const v = config[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      fail(source, `${key(k)} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  const eps = config.layerNormEpsilon;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
    fail(source, `${key('layerNormEpsilon')} must be a number in (0, 1), got ${JSON.stringify(eps)}`);
  }
  const p = config.dropoutRate;
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p >= 1) {
    fail(source, `${key('dropoutRate')} must be a number in [0, 1), got ${JSON.stringify(p)}`);
  }
  if (typeof config.wholeWordEmbeddings !== 'boolean') {
    fail(source, `${key('wholeWordEmbeddings')} must be true or false, got ${JSON.stringify(config.wholeWordEmbeddings)}`);
  }
  for (const k of TOKEN_ID_FIELDS) {
    const v = config[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= config.vocabSize) {
      fail(source, `${key(k)} must be an integer in [0, ${key('vocabSize')} = ${config.vocabSize}), got ${JSON.stringify(v)}`);
    }
  }
  checkFeedForward(config.feedForwardProj, source, key('feedForwardProj'));
  if (typeof config.tieWordEmbeddings !== 'boolean') {
    fail(source, `${key('tieWordEmbeddings')} must be true or false, got ${JSON.stringify(config.tieWordEmbeddings)}`);
  }
  const out: P5Config = {} as P5Config;
  for (const k of Object.keys(HF_KEY) as (keyof P5Config)[]) (out as unknown as Record<string, unknown>)[k] = config[k];
  return Object.freeze(out);
}

function checkFeedForward(v: unknown, source: string, keyName: string): asserts v is FeedForwardProj {
  if (!(FEED_FORWARD_PROJS as readonly unknown[]).includes(v)) {
    fail(source, `${keyName} is ${JSON.stringify(v)}; paprec implements ${FEED_FORWARD_PROJS.map((f) => `"${f}"`).join(', ')}`);
  }
}

/** Activations paprec implements, by HF name: ReLU and GELU's tanh form (HF's two names for it). */
const ACTIVATIONS: Record<string, 'relu' | 'gelu_new'> = { relu: 'relu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new' };

/** The canonical feed-forward from a gate flag and an HF activation name; an activation paprec lacks is refused by name. */
function feedForwardOf(gated: boolean, activation: string, source: string, keyName: string): FeedForwardProj {
  const act = ACTIVATIONS[activation];
  if (act === undefined) {
    const hint = activation === 'gelu' ? ' (exact erf GELU; T5 v1.1 / Flan-T5 use its tanh form, gelu_new)' : '';
    fail(source, `${keyName}: activation "${activation}" is not implemented${hint}; paprec implements relu and gelu_new (tanh GELU)`);
  }
  if (gated) return act === 'relu' ? 'gated-relu' : 'gated-gelu';
  return act;
}

/**
 * The feed-forward of an HF config: `feed_forward_proj` ("relu", "gated-gelu", "gated-relu", "gelu_new", ...;
 * HF reads "gated-gelu" as gated gelu_new), and/or the newer pair `dense_act_fn` + `is_gated_act`. When both
 * spellings are written they must agree. Neither: "relu".
 */
function hfFeedForward(j: Record<string, unknown>, source: string): FeedForwardProj {
  const proj = j.feed_forward_proj ?? undefined;
  const act = j.dense_act_fn ?? undefined;
  const gate = j.is_gated_act ?? undefined;
  let fromProj: FeedForwardProj | undefined;
  if (proj !== undefined) {
    if (typeof proj !== 'string') fail(source, `feed_forward_proj must be a string, got ${JSON.stringify(proj)}`);
    const parts = proj.split('-');
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
      fail(source, `feed_forward_proj "${proj}" is not "<activation>" or "gated-<activation>"`);
    }
    const gated = parts.length === 2;
    const name = parts[parts.length - 1]!;
    fromProj = feedForwardOf(gated, gated && name === 'gelu' ? 'gelu_new' : name, source, `feed_forward_proj "${proj}"`);
  }
  if (act === undefined && gate === undefined) return fromProj ?? 'relu';
  if (act !== undefined && typeof act !== 'string') fail(source, `dense_act_fn must be a string, got ${JSON.stringify(act)}`);
  if (gate !== undefined && typeof gate !== 'boolean') fail(source, `is_gated_act must be true or false, got ${JSON.stringify(gate)}`);
  // A member of the pair left out follows feed_forward_proj when that is written, else T5's default.
  const gated = (gate as boolean | undefined) ?? fromProj?.startsWith('gated-') ?? false;
  const activation = (act as string | undefined) ?? (fromProj === undefined || fromProj.endsWith('relu') ? 'relu' : 'gelu_new');
  const pair = `dense_act_fn ${JSON.stringify(activation)} with is_gated_act ${JSON.stringify(gated)}`;
  const fromPair = feedForwardOf(gated, activation, source, pair);
  if (fromProj !== undefined && fromProj !== fromPair) {
    fail(source, `feed_forward_proj "${String(proj)}" (${fromProj}) disagrees with ${pair} (${fromPair})`);
  }
  return fromPair;
}

/**
 * Parse an HF T5Config JSON object (as written by `save_pretrained`). HF omits keys equal to the defaults, so a
 * missing key takes T5Config's default (`tie_word_embeddings` true, `feed_forward_proj` relu); `num_decoder_layers`
 * defaults to `num_layers`. P5 extras:
 * `whole_word_embeddings` (absent: true iff `architectures` names "P5") and `whole_word_size` (default 512).
 */
export function parseHfConfig(json: unknown, source: string): P5Config {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(source, 'config must be a JSON object');
  const j = json as Record<string, unknown>;
  if (j.model_type !== undefined && j.model_type !== 't5') {
    fail(source, `model_type is ${JSON.stringify(j.model_type)}, expected "t5" (P5 is a T5 encoder-decoder)`);
  }
  const feedForwardProj = hfFeedForward(j, source);
  const arch = Array.isArray(j.architectures) ? j.architectures : [];
  const get = <T>(k: string, dflt: T): T => (j[k] === undefined || j[k] === null ? dflt : (j[k] as T));
  const numLayers = get('num_layers', 6);
  const config: P5Config = {
    vocabSize: get('vocab_size', 32128),
    dModel: get('d_model', 512),
    dKv: get('d_kv', 64),
    dFf: get('d_ff', 2048),
    numHeads: get('num_heads', 8),
    numLayers,
    numDecoderLayers: get('num_decoder_layers', numLayers),
    relativeAttentionNumBuckets: get('relative_attention_num_buckets', 32),
    relativeAttentionMaxDistance: get('relative_attention_max_distance', 128),
    layerNormEpsilon: get('layer_norm_epsilon', 1e-6),
    dropoutRate: get('dropout_rate', 0.1),
    wholeWordEmbeddings: get('whole_word_embeddings', arch.includes('P5')),
    wholeWordSize: get('whole_word_size', 512),
    padTokenId: get('pad_token_id', 0),
    eosTokenId: get('eos_token_id', 1),
    decoderStartTokenId: get('decoder_start_token_id', 0),
    feedForwardProj,
    tieWordEmbeddings: get('tie_word_embeddings', true),
  };
  return validateConfig(config, source, true);
}

/**
 * HF T5Config JSON (every key written, none left to defaults; `dense_act_fn` / `is_gated_act` too, as newer HF writes
 * them) plus P5's `whole_word_*` keys.
 */
export function toHfConfig(config: P5Config): Record<string, unknown> {
  const c = validateConfig(config, 'config');
  return {
    architectures: [c.wholeWordEmbeddings ? 'P5' : 'T5ForConditionalGeneration'],
    model_type: 't5',
    is_encoder_decoder: true,
    tie_word_embeddings: c.tieWordEmbeddings,
    vocab_size: c.vocabSize,
    d_model: c.dModel,
    d_kv: c.dKv,
    d_ff: c.dFf,
    num_heads: c.numHeads,
    num_layers: c.numLayers,
    num_decoder_layers: c.numDecoderLayers,
    relative_attention_num_buckets: c.relativeAttentionNumBuckets,
    relative_attention_max_distance: c.relativeAttentionMaxDistance,
    layer_norm_epsilon: c.layerNormEpsilon,
    dropout_rate: c.dropoutRate,
    feed_forward_proj: c.feedForwardProj,
    dense_act_fn: c.feedForwardProj.endsWith('relu') ? 'relu' : 'gelu_new',
    is_gated_act: c.feedForwardProj.startsWith('gated-'),
    initializer_factor: 1.0,
    pad_token_id: c.padTokenId,
    eos_token_id: c.eosTokenId,
    decoder_start_token_id: c.decoderStartTokenId,
    use_cache: true,
    whole_word_embeddings: c.wholeWordEmbeddings,
    whole_word_size: c.wholeWordSize,
  };
}

/** True when an object is in HF spelling (snake_case keys) rather than P5Config's camelCase. */
function looksLikeHf(o: Record<string, unknown>): boolean {
  return 'd_model' in o || 'vocab_size' in o || 'model_type' in o || 'num_layers' in o;
}

function readConfigFile(file: string): P5Config {
  let target = file;
  try {
    if (statSync(file).isDirectory()) target = path.join(file, 'config.json');
  } catch {
    throw new PaprecError(
      `${file}: model config not found (give a preset name: ${Object.keys(PRESETS).join(', ')}; ` +
        `a config.json path; or an object)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PaprecError(`${target}: cannot read model config (${code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PaprecError(`${target}: model config is not valid JSON (${(err as Error).message})`);
  }
  return parseHfConfig(json, target);
}

/**
 * A complete, validated config from a preset name, a config.json path (or folder), or an object, with
 * `overrides` (camelCase) applied last, e.g. `resolveConfig('p5-small', { vocabSize: 500 })`.
 * A camelCase object needs vocabSize, dModel, dKv, dFf, numHeads and numLayers; other fields take T5's defaults.
 */
export function resolveConfig(input: ConfigInput, overrides: Partial<P5Config> = {}): P5Config {
  let base: P5Config;
  let source: string;
  if (typeof input === 'string') {
    const p = PRESETS[input];
    base = p ? { ...p } : readConfigFile(input);
    source = p ? `preset ${input}` : input;
  } else if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const o = input as Record<string, unknown>;
    if (looksLikeHf(o)) {
      base = parseHfConfig(o, 'config object');
    } else {
      for (const k of ['vocabSize', 'dModel', 'dKv', 'dFf', 'numHeads', 'numLayers'] as const) {
        if (o[k] === undefined) fail('config object', `${k} is required`);
      }
      const partial = o as Partial<P5Config>;
      base = {
        ...T5_V1_0_DEFAULTS,
        ...(partial as P5Config),
        numDecoderLayers: partial.numDecoderLayers ?? (partial.numLayers as number),
      };
    }
    source = 'config object';
  } else {
    throw new PaprecError(`model config must be a preset name, a config.json path or an object, got ${typeof input}`);
  }
  const unknownKeys = Object.keys(overrides).filter((k) => !(k in HF_KEY));
  if (unknownKeys.length > 0) fail(source, `unknown config override(s): ${unknownKeys.join(', ')}`);
  const merged = { ...base, ...overrides };
  if (overrides.numLayers !== undefined && overrides.numDecoderLayers === undefined && base.numDecoderLayers === base.numLayers) {
    merged.numDecoderLayers = overrides.numLayers;
  }
  return validateConfig(merged, Object.keys(overrides).length > 0 ? `${source} (with overrides)` : source);
}

/**
 * Trainable parameters, each tensor counted once: the tied embedding table once (shared = both embed_tokens, and
 * lm_head when tied), an untied lm_head, both relative-position tables, and the whole-word table when present.
 * P5-small: 60,754,432.
 */
export function parameterCount(config: P5Config): number {
  let n = 0;
  for (const shape of expectedTensors(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
