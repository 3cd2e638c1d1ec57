/**
 * Parameter names and shapes of P5 / the T5 family in Hugging Face spelling (REFERENCE.md §1), and the mapping from
 * whatever a checkpoint holds to the canonical set the native model receives.
 *
 * T5 v1.0 (P5): `DenseReluDense.{wi,wo}`, and `lm_head.weight` is the token embedding. T5 v1.1 / Flan-T5: a gated
 * feed-forward `DenseReluDense.{wi_0,wi_1,wo}`, and usually (tie_word_embeddings false) a separate `lm_head.weight`.
 *
 * Canonical form: no `module.` prefix (DataParallel / DDP checkpoints), the tied embedding names collapsed to
 * `shared.weight` (an untied `lm_head.weight` stays, last), the stale cross-attention position bias dropped.
 * nn.Linear weights are [out, in].
 */
import { firstNonFinite, nonFiniteMessage } from './finite.js';
import { PaprecError } from '../errors.js';
import type { P5Config } from './config.js';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Names that hold the same matrix in T5 v1.0; `shared.weight` is the canonical one. */
export const TIED_NAMES = [
  'shared.weight',
  'encoder.embed_tokens.weight',
  'decoder.embed_tokens.weight',
  'lm_head.weight',
] as const;

export const LM_HEAD = 'lm_head.weight';

/** The names holding the token-embedding matrix under this config: `lm_head.weight` only when the head is tied. */
export function tiedNames(config: Pick<P5Config, 'tieWordEmbeddings'>): string[] {
  return config.tieWordEmbeddings ? [...TIED_NAMES] : TIED_NAMES.filter((n) => n !== LM_HEAD);
}

/** HF creates a relative_attention_bias on block 0's cross-attention too; T5 never uses it. */
export const STALE_NAMES = ['decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight'] as const;

/**
 * Expected tensors and their shapes, in HF `state_dict()` order.
 * By default canonical (tied matrix once, as `shared.weight`; an untied `lm_head.weight` last); with `tiedCopies`
 * every tied name appears where HF's state_dict puts them (what `model.safetensors` holds).
 */
export function expectedTensors(config: P5Config, opts: { tiedCopies?: boolean } = {}): Map<string, number[]> {
  const { vocabSize: V, dModel: D, dFf: F, numHeads: H, relativeAttentionNumBuckets: B } = config;
  const inner = H * config.dKv;
  const m = new Map<string, number[]>();
  const attention = (prefix: string, withBias: boolean) => {
    for (const p of ['q', 'k', 'v']) m.set(`${prefix}.${p}.weight`, [inner, D]);
    m.set(`${prefix}.o.weight`, [D, inner]);
    if (withBias) m.set(`${prefix}.relative_attention_bias.weight`, [B, H]);
  };
  const gated = config.feedForwardProj.startsWith('gated-');
  const feedForward = (prefix: string) => {
    if (gated) {
      m.set(`${prefix}.DenseReluDense.wi_0.weight`, [F, D]);
      m.set(`${prefix}.DenseReluDense.wi_1.weight`, [F, D]);
    } else {
      m.set(`${prefix}.DenseReluDense.wi.weight`, [F, D]);
    }
    m.set(`${prefix}.DenseReluDense.wo.weight`, [D, F]);
    m.set(`${prefix}.layer_norm.weight`, [D]);
  };
  m.set('shared.weight', [V, D]);
  if (opts.tiedCopies) m.set('encoder.embed_tokens.weight', [V, D]);
  for (let i = 0; i < config.numLayers; i++) {
    attention(`encoder.block.${i}.layer.0.SelfAttention`, i === 0);
    m.set(`encoder.block.${i}.layer.0.layer_norm.weight`, [D]);
    feedForward(`encoder.block.${i}.layer.1`);
  }
  m.set('encoder.final_layer_norm.weight', [D]);
  if (config.wholeWordEmbeddings) m.set('encoder.whole_word_embeddings.weight', [config.wholeWordSize, D]);
  if (opts.tiedCopies) m.set('decoder.embed_tokens.weight', [V, D]);
  for (let i = 0; i < config.numDecoderLayers; i++) {
    attention(`decoder.block.${i}.layer.0.SelfAttention`, i === 0);
    m.set(`decoder.block.${i}.layer.0.layer_norm.weight`, [D]);
    attention(`decoder.block.${i}.layer.1.EncDecAttention`, false);
    m.set(`decoder.block.${i}.layer.1.layer_norm.weight`, [D]);
    feedForward(`decoder.block.${i}.layer.2`);
  }
  m.set('decoder.final_layer_norm.weight', [D]);
  if (opts.tiedCopies || !config.tieWordEmbeddings) m.set(LM_HEAD, [V, D]);
  return m;
}

/** Strip one `module.` prefix (DataParallel / DDP). */
export function stripModulePrefix(name: string): string {
  return name.startsWith('module.') ? name.slice('module.'.length) : name;
}

function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data === b.data) return true;
  if (a.data.length !== b.data.length) return false;
  // Compare bits, not values: NaN payloads and -0 must match too.
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Canonical names: strips `module.`, drops the stale cross-attention bias, collapses the tied names (`tiedNames`) to
 * `shared.weight`. Tied copies that are present must be identical: under a tied config (T5 v1.0, the default) a
 * checkpoint whose `lm_head.weight` differs from the embeddings is an untied model and is refused, naming the
 * config key that would load it; under an untied config `lm_head.weight` is kept as its own tensor.
 */
export function canonicalizeStateDict<T extends Tensor>(
  tensors: Map<string, T>,
  source: string,
  config: Pick<P5Config, 'tieWordEmbeddings'> = { tieWordEmbeddings: true },
): Map<string, T> {
  const tiedSet = new Set(tiedNames(config));
  const out = new Map<string, T>();
  const tied: [string, T][] = [];
  for (const [raw, t] of tensors) {
    const name = stripModulePrefix(raw);
    if ((STALE_NAMES as readonly string[]).includes(name)) continue;
    if (tiedSet.has(name)) {
      tied.push([raw, t]);
      continue;
    }
    if (out.has(name)) throw new PaprecError(`${source}: tensor ${name} appears twice (as ${raw} and with another prefix)`);
    out.set(name, t);
  }
  if (tied.length > 0) {
    // Prefer shared.weight as the reference so messages compare against the embedding table.
    tied.sort((a, b) => Number(stripModulePrefix(b[0]) === 'shared.weight') - Number(stripModulePrefix(a[0]) === 'shared.weight'));
    const [refName, ref] = tied[0]!;
    for (const [name, t] of tied.slice(1)) {
      if (!sameTensor(ref, t)) {
        // A NaN / Inf in one copy is a poisoned checkpoint, not an untied one: say that first.
        for (const [n, x] of [[refName, ref], [name, t]] as const) {
          const hit = firstNonFinite(x);
          if (hit) throw new PaprecError(`${source}: ${nonFiniteMessage(n, hit)}`);
        }
        const untied = stripModulePrefix(name) === LM_HEAD || stripModulePrefix(refName) === LM_HEAD;
        throw new PaprecError(
          untied
            ? `${source}: ${name} differs from ${refName}, but the config ties the LM head to the token embeddings ` +
                `(tie_word_embeddings true, as in T5 v1.0 / P5); an untied head (T5 v1.1 / Flan-T5) loads with ` +
                `tie_word_embeddings: false in config.json`
            : `${source}: ${name} differs from ${refName}; the T5 family ties the encoder's and decoder's token embeddings`,
        );
      }
    }
    out.set('shared.weight', ref);
  }
  // shared.weight first, an untied lm_head.weight last (HF order); the others keep their order.
  const rank = (n: string) => (n === 'shared.weight' ? -1 : n === LM_HEAD ? 1 : 0);
  return new Map([...out].sort((a, b) => rank(a[0]) - rank(b[0])));
}

const MAX_LISTED = 20;

function listCapped(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; ... and ${items.length - MAX_LISTED} more` : shown;
}

function dimsHint(name: string, config: P5Config): string {
  if (name === 'shared.weight' || name === LM_HEAD) return ` (vocab_size ${config.vocabSize} x d_model ${config.dModel})`;
  if (name === 'encoder.whole_word_embeddings.weight') return ` (whole_word_size ${config.wholeWordSize} x d_model ${config.dModel})`;
  if (name.endsWith('relative_attention_bias.weight')) return ` (relative_attention_num_buckets x num_heads)`;
  if (/\.wi(_[01])?\.weight$/.test(name)) return ' (d_ff x d_model)';
  if (name.endsWith('.wo.weight')) return ' (d_model x d_ff)';
  if (name.endsWith('.o.weight')) return ' (d_model x num_heads*d_kv)';
  if (/\.[qkv]\.weight$/.test(name)) return ' (num_heads*d_kv x d_model)';
  return ' (d_model)';
}

/**
 * Check canonical tensors against the config: every missing, unexpected and mis-shaped tensor is named, all in one
 * PaprecError (each list capped at 20 names). Also checks each data length matches its shape.
 */
export function validateStateDict(tensors: Map<string, Tensor>, config: P5Config, source: string): void {
  const expected = expectedTensors(config);
  const missing: string[] = [];
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) {
      missing.push(name);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misShaped.push(`${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]${dimsHint(name, config)}`);
    } else if (t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      misShaped.push(`${name} holds ${t.data.length} values, its shape [${shape.join(', ')}] needs ${shape.reduce((a, b) => a * b, 1)}`);
    }
  }
  for (const name of tensors.keys()) if (!expected.has(name)) unexpected.push(name);
  if (missing.length + unexpected.length + misShaped.length === 0) return;
  const parts: string[] = [];
  if (misShaped.length) parts.push(`${misShaped.length} mis-shaped: ${listCapped(misShaped)}`);
  if (missing.length) parts.push(`${missing.length} missing: ${listCapped(missing)}`);
  if (unexpected.length) parts.push(`${unexpected.length} unexpected: ${listCapped(unexpected)}`);
  const hints: string[] = [];
  if (!config.wholeWordEmbeddings && unexpected.includes('encoder.whole_word_embeddings.weight')) {
    hints.push('the checkpoint has whole-word embeddings: set whole_word_embeddings: true in the config');
  } else if (config.wholeWordEmbeddings && missing.includes('encoder.whole_word_embeddings.weight')) {
    hints.push('a plain T5 checkpoint: set whole_word_embeddings: false in the config');
  }
  const has = (list: string[], re: RegExp) => list.some((n) => re.test(n));
  if (has(missing, /\.wi_[01]\.weight$/) && has(unexpected, /\.wi\.weight$/)) {
    hints.push('the checkpoint has a plain feed-forward (wi): a T5 v1.0 model, feed_forward_proj "relu"');
  } else if (has(missing, /\.wi\.weight$/) && has(unexpected, /\.wi_[01]\.weight$/)) {
    hints.push('the checkpoint has a gated feed-forward (wi_0, wi_1): a T5 v1.1 / Flan-T5 model, feed_forward_proj "gated-gelu"');
  }
  if (!config.tieWordEmbeddings && missing.includes(LM_HEAD)) {
    hints.push('no separate lm_head.weight: a tied model, tie_word_embeddings true');
  }
  throw new PaprecError(
    `${source}: the checkpoint does not match the model config (vocab_size ${config.vocabSize}, d_model ${config.dModel}, ` +
      `d_kv ${config.dKv}, d_ff ${config.dFf}, num_heads ${config.numHeads}, layers ${config.numLayers}+${config.numDecoderLayers}, ` +
      `feed_forward_proj ${config.feedForwardProj}, tie_word_embeddings ${config.tieWordEmbeddings}): ` +
      `${parts.join('. ')}${hints.length > 0 ? ` (${hints.join('; ')})` : ''}`,
  );
}
