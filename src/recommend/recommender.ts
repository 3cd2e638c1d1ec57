/**
 * Recommender: what a search found, applied. A backbone, a tokenizer and a prompt (manual or searched) turn a user
 * and their history (or a candidate list, for matching prompts) into ranked item ids with scores.
 *
 * Two steps, so a server can check every request before any of them joins a batch:
 * - `prepare` checks one request and renders it with the project's prompt rendering (src/prompts), the history
 *   truncated to the `MAX_HISTORY` most recent items as in every example the search saw;
 * - `run` decodes many prepared requests in one native call (beam search, optionally constrained to valid items).
 * `recommend` and `recommendBatch` do both.
 */
import type { Dataset, Tokenizer } from '../types.js';
import { PaprecError } from '../errors.js';
import { Backbone, type BackboneOptions } from '../backbone/index.js';
import { toNativeBatch } from '../backbone/batch.js';
import { native, type NativeConstraint } from '../native.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { loadDataset } from '../data/index.js';
import { MAX_HISTORY } from '../data/splits.js';
import { HISTORY_JOINERS, renderExample, SegmentEncoder, type Prompt, type PromptExample } from '../prompts/index.js';
import { Catalogue, generatedText, itemOfText, itemSequences, type SequenceSet } from './catalogue.js';
import { loadRecommendPrompt } from './prompt.js';

export interface RecommendRequest {
  /** P5 user id (1-based). A user the search never saw gets the default user token. */
  user: number;
  /** Item ids, oldest first. Default: the user's whole sequence in the data. */
  history?: readonly number[];
  /** Matching prompts: the list to pick from (rendered into the prompt). Sequential prompts: the only answers allowed. */
  candidates?: readonly number[];
  /** Per-request overrides of the call's options. */
  k?: number;
  constrained?: boolean;
}

export interface RecommendOptions {
  /** Items returned (default 10, at most `beams`). */
  k?: number;
  /** Beam width (default 20, P5's test protocol). */
  beams?: number;
  /** Decode only valid items (the candidates, else the catalogue). Off by default: P5 decodes unconstrained. */
  constrained?: boolean;
}

export interface Recommendation {
  user: number;
  /** Best first; distinct; each a catalogue item (or candidate). Fewer than k when the model named fewer. */
  items: number[];
  /** The beam score of each item: sum of token log-probs / sequence length (HF's length-normalised score). */
  scores: number[];
}

/** A checked, rendered request, ready to join a batch. */
export interface PreparedRequest {
  readonly user: number;
  readonly inputIds: readonly number[];
  readonly wholeWordIds: readonly number[];
  readonly k: number;
  /** The sequences decoding is constrained to: 'catalogue', this request's own list, or none. */
  readonly constraint: 'catalogue' | SequenceSet | null;
  /** Outputs that count: the candidates, else the catalogue (undefined: any item id). */
  readonly allowed: ReadonlySet<number> | undefined;
}

/** One input row's raw beam outputs, best first (non-finite ones dropped): tokens after the start, texts, scores. */
export interface RowOutputs {
  ids: Int32Array[];
  texts: string[];
  scores: number[];
}

export const DEFAULT_K = 10;
export const DEFAULT_BEAMS = 20;
/** A request's longest decoding, start token included, unless it asks: item ids are a few pieces (a serving
 * bound; measurements use the protocol's, src/protocol/decoding.ts). */
export const SERVE_MAX_LENGTH = 16;
/** Users above this id, beyond the searched table, would make the per-user table too large to keep. */
const MAX_USER_ID = 10_000_000;

export interface RecommenderInit {
  backbone: Backbone;
  tokenizer: Tokenizer;
  prompt: Prompt;
  /** The catalogue (valid items, unknown-id errors) and the users' histories. Optional. */
  dataset?: Dataset;
}

export interface LoadRecommenderOptions extends BackboneOptions {
  model: string;
  tokenizer: string;
  /** A manual prompt id (`2-3`, `5-7`, ...) or a prompt.json (`FILE` or `FILE#N`). */
  prompt: string;
  /** A P5 data folder. */
  data?: string;
  onWarning?: (message: string) => void;
}

/** A request that cannot be served: `field` is where in it (`request.history[3]`, `requests[2].user`). */
export class RequestError extends PaprecError {
  constructor(
    readonly field: string,
    what: string,
  ) {
    super(`${field}: ${what}`);
  }
}

const REQUEST_FIELDS = ['user', 'history', 'candidates', 'k', 'constrained'];

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

export class Recommender {
  readonly task: 'sequential' | 'matching';
  readonly catalogue: Catalogue | undefined;
  private readonly enc: SegmentEncoder;
  private userTable: Int32Array | undefined;
  private readonly decoded = new Map<string, string>();

  constructor(private readonly init: RecommenderInit) {
    const { prompt, tokenizer, backbone, dataset } = init;
    if (prompt.task === 'explanation') throw new PaprecError('recommender: an explanation prompt generates text; use a sequential or matching prompt');
    // More model rows than tokenizer pieces are fine (T5 v1.1: 32,128 for 32,100); generatedText reads them as no item.
    if (backbone.config.vocabSize < tokenizer.vocabSize) {
      throw new PaprecError(
        `recommender: the model's vocabulary (${backbone.config.vocabSize} rows) is smaller than the tokenizer's (${tokenizer.vocabSize} pieces)`,
      );
    }
    this.task = prompt.task;
    this.enc = new SegmentEncoder(tokenizer);
    const items = (dataset as { datamaps?: { id2item: Map<number, string> } } | undefined)?.datamaps?.id2item.keys();
    this.catalogue = dataset ? new Catalogue(items ?? Array.from({ length: dataset.numItems }, (_, i) => i + 1), tokenizer) : undefined;
    if (prompt.type === 'automated' && prompt.userTokens) {
      const n = Math.max(prompt.userTokens.length, dataset?.users.length ?? 0);
      this.userTable = new Int32Array(n).fill(prompt.defaultUserToken);
      this.userTable.set(prompt.userTokens);
    }
  }

  /** Load model, tokenizer, prompt and (optionally) data from files. */
  static async load(o: LoadRecommenderOptions): Promise<Recommender> {
    const tokenizer = await loadTokenizer(o.tokenizer);
    const prompt = await loadRecommendPrompt(o.prompt, tokenizer);
    const dataset = o.data ? await loadDataset(o.data, { ...(o.onWarning ? { onWarning: o.onWarning } : {}) }) : undefined;
    const backbone = await Backbone.load(o.model, { device: o.device ?? 'auto', ...(o.dtype ? { dtype: o.dtype } : {}) });
    try {
      return new Recommender({ backbone, tokenizer, prompt, ...(dataset ? { dataset } : {}) });
    } catch (err) {
      backbone.dispose();
      throw err;
    }
  }

  get prompt(): Prompt {
    return this.init.prompt;
  }

  get backbone(): Backbone {
    return this.init.backbone;
  }

  /** Number of users in the data (0 without data). */
  get numUsers(): number {
    return this.init.dataset?.users.length ?? 0;
  }

  /** Items of a request field that are not in the catalogue (every id must be a positive integer). */
  private checkItems(items: unknown, field: string, where: string): number[] {
    if (!Array.isArray(items)) throw new RequestError(`${where}.${field}`, 'expected a list of item ids');
    const bad = items.findIndex((x) => !positiveInt(x));
    if (bad >= 0) throw new RequestError(`${where}.${field}[${bad}]`, `expected an item id (a positive integer), got ${JSON.stringify(items[bad])}`);
    if (this.catalogue) {
      const unknown = [...new Set(items.filter((x) => !this.catalogue!.has(x)))];
      if (unknown.length > 0) {
        const shown = unknown.slice(0, 10).join(', ') + (unknown.length > 10 ? `, ... (${unknown.length} in all)` : '');
        throw new RequestError(`${where}.${field}`, `unknown item id${unknown.length > 1 ? 's' : ''} ${shown} (not in the catalogue of ${this.catalogue.size} items)`);
      }
    }
    return items as number[];
  }

  private historyOf(req: RecommendRequest, where: string): number[] {
    if (req.history !== undefined) {
      const h = this.checkItems(req.history, 'history', where);
      if (h.length === 0) throw new RequestError(`${where}.history`, "empty; give at least one item (or omit it to use the data's history)");
      return h.slice(-MAX_HISTORY);
    }
    const users = this.init.dataset?.users;
    if (!users) throw new RequestError(`${where}.history`, 'required (no data folder was given, so user histories are unknown)');
    const u = users[req.user - 1];
    if (!u) throw new RequestError(`${where}.user`, `user ${req.user} is not in the data (users 1..${users.length}) and the request gives no history`);
    return u.items.slice(-MAX_HISTORY);
  }

  /** The prompt with a user table that covers `user` (users beyond the searched ones get the default token). */
  private promptFor(user: number, where: string): Prompt {
    const p = this.init.prompt;
    if (p.type !== 'automated' || !this.userTable) return p;
    if (user > this.userTable.length) {
      if (user > MAX_USER_ID) throw new RequestError(`${where}.user`, `${user} is above ${MAX_USER_ID}, the largest user id a personalized prompt renders`);
      const grown = new Int32Array(Math.min(MAX_USER_ID, Math.max(user, 2 * this.userTable.length))).fill(p.defaultUserToken);
      grown.set(this.userTable);
      this.userTable = grown;
    }
    return { ...p, userTokens: this.userTable };
  }

  /** Check one request and render it. Errors are PaprecErrors that name the field (`${where}.history[3]: ...`). */
  prepare(req: RecommendRequest, opts: RecommendOptions = {}, where = 'request'): PreparedRequest {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new RequestError(where, 'expected an object {user, history?, candidates?, k?, constrained?}');
    const extra = Object.keys(req).find((key) => !REQUEST_FIELDS.includes(key));
    if (extra !== undefined) throw new RequestError(`${where}.${extra}`, `unknown field (a request has ${REQUEST_FIELDS.join(', ')})`);
    if (!positiveInt(req.user)) throw new RequestError(`${where}.user`, `expected a user id (a positive integer), got ${JSON.stringify(req.user) ?? 'nothing'}`);
    const beams = opts.beams ?? DEFAULT_BEAMS;
    const k = req.k ?? opts.k ?? DEFAULT_K;
    if (!positiveInt(k)) throw new RequestError(`${where}.k`, `expected a positive integer, got ${JSON.stringify(k)}`);
    if (k > beams) throw new RequestError(`${where}.k`, `${k} is more than the ${beams} beams the search keeps`);
    const constrainedOpt = req.constrained ?? opts.constrained ?? false;
    if (typeof constrainedOpt !== 'boolean') throw new RequestError(`${where}.constrained`, `expected true or false, got ${JSON.stringify(constrainedOpt)}`);

    if (this.task === 'matching' && req.history !== undefined) throw new RequestError(`${where}.history`, 'a matching prompt reads no history (it picks from candidates)');
    const candidates = req.candidates === undefined ? undefined : this.checkItems(req.candidates, 'candidates', where);
    if (candidates && candidates.length === 0) throw new RequestError(`${where}.candidates`, 'empty');
    const example: PromptExample =
      this.task === 'matching'
        ? { task: 'matching', user: req.user, candidates: candidates ?? [], target: '', joiner: HISTORY_JOINERS[0] }
        : { task: 'sequential', user: req.user, history: this.historyOf(req, where), target: '', joiner: HISTORY_JOINERS[0] };
    if (this.task === 'matching' && !candidates) throw new RequestError(`${where}.candidates`, 'required (a matching prompt picks from a candidate list)');

    // A sequential prompt does not show the candidates: they can only act as the allowed answers.
    const constrained = constrainedOpt || (this.task === 'sequential' && candidates !== undefined);
    let constraint: PreparedRequest['constraint'] = null;
    if (constrained) {
      if (candidates) constraint = itemSequences([...new Set(candidates)], this.enc);
      else if (this.catalogue) constraint = 'catalogue';
      else throw new RequestError(`${where}.constrained`, 'needs the catalogue (a data folder) or a candidate list');
    }
    const row = renderExample(this.enc, this.promptFor(req.user, where), example);
    return {
      user: req.user,
      inputIds: row.inputIds,
      wholeWordIds: this.init.tokenizer.wholeWordIds(row.inputIds),
      k,
      constraint,
      allowed: candidates ? new Set(candidates) : this.catalogue?.items,
    };
  }

  private constraintOf(rows: readonly Pick<PreparedRequest, 'constraint'>[]): { constraint?: NativeConstraint; longest: number } {
    if (rows.every((r) => r.constraint === null)) return { longest: 0 };
    const sets: SequenceSet[] = [];
    const rowSet = new Int32Array(rows.length).fill(-1);
    let catalogueIndex = -1;
    rows.forEach((r, i) => {
      if (r.constraint === null) return;
      if (r.constraint === 'catalogue') {
        if (catalogueIndex < 0) catalogueIndex = sets.push(this.catalogue!.sequences) - 1;
        rowSet[i] = catalogueIndex;
      } else {
        rowSet[i] = sets.push(r.constraint) - 1;
      }
    });
    let longest = 0;
    for (const s of sets) for (let i = 0; i + 1 < s.offsets.length; i++) longest = Math.max(longest, s.offsets[i + 1]! - s.offsets[i]!);
    return { constraint: { sets, rowSet }, longest };
  }

  private decode(ids: Int32Array): string {
    const key = ids.join(',');
    let text = this.decoded.get(key);
    if (text === undefined) {
      text = generatedText(ids, this.init.tokenizer);
      if (this.decoded.size < 100_000) this.decoded.set(key, text);
    }
    return text;
  }

  /**
   * Beam search over rendered rows in ONE native call: every row's `returnSequences` best outputs, decoded.
   * maxLength counts the start token (default: long enough for an item id, and for every constrained sequence).
   */
  async generate(
    rows: readonly Pick<PreparedRequest, 'inputIds' | 'wholeWordIds' | 'constraint'>[],
    opts: { beams: number; returnSequences: number; maxLength?: number },
  ): Promise<RowOutputs[]> {
    if (rows.length === 0) return [];
    const { constraint, longest } = this.constraintOf(rows);
    const maxLength = Math.max(opts.maxLength ?? SERVE_MAX_LENGTH, longest + 1);
    const batch = toNativeBatch({ inputIds: rows.map((r) => r.inputIds), wholeWordIds: rows.map((r) => r.wholeWordIds) });
    if (constraint && native().constrainedDecoding !== true) {
      throw new PaprecError('recommend: this build of the native addon predates constrained decoding; rebuild it (npm run build:native)');
    }
    let r;
    try {
      r = await this.init.backbone.call((h) =>
        native().generate(h, batch, {
          numBeams: opts.beams,
          numReturnSequences: opts.returnSequences,
          maxLength,
          earlyStopping: true,
          vocabLimit: this.init.tokenizer.vocabSize,
          ...(constraint ? { constraint } : {}),
        }),
      );
    } catch (err) {
      throw new PaprecError(`recommend: ${(err as Error).message}`);
    }
    const nrs = opts.returnSequences;
    const out: RowOutputs[] = [];
    for (let i = 0; i < rows.length; i++) {
      const ids: Int32Array[] = [];
      const texts: string[] = [];
      const scores: number[] = [];
      for (let j = 0; j < nrs; j++) {
        const s = i * nrs + j;
        const score = r.scores ? r.scores[s]! : 0;
        if (!Number.isFinite(score)) continue; // a beam the constraint ruled out (fewer valid sequences than beams)
        const seq = r.sequences.subarray(s * r.length + 1, (s + 1) * r.length);
        const end = seq.indexOf(1);
        const tokens = end < 0 ? seq : seq.subarray(0, end);
        ids.push(tokens);
        texts.push(this.decode(tokens));
        scores.push(score);
      }
      out.push({ ids, texts, scores });
    }
    return out;
  }

  /** Decode prepared requests in one native call; `beams` must be at least every request's k. */
  async run(prepared: readonly PreparedRequest[], opts: Pick<RecommendOptions, 'beams'> = {}): Promise<Recommendation[]> {
    const beams = opts.beams ?? DEFAULT_BEAMS;
    const outs = await this.generate(prepared, { beams, returnSequences: beams });
    return prepared.map((p, i) => {
      const items: number[] = [];
      const scores: number[] = [];
      const seen = new Set<number>();
      const o = outs[i]!;
      for (let j = 0; j < o.texts.length && items.length < p.k; j++) {
        const item = itemOfText(o.texts[j]!);
        const valid = item !== undefined && (!p.allowed || p.allowed.has(item));
        if (!valid && p.constraint !== null) {
          // constrained outputs are valid by construction: an addon built before constrained decoding ignores it
          throw new PaprecError(`recommend: constrained decoding returned "${o.texts[j]}", not an allowed item; rebuild the native addon (npm run build:native)`);
        }
        if (!valid || seen.has(item!)) continue;
        seen.add(item!);
        items.push(item!);
        scores.push(o.scores[j]!);
      }
      return { user: p.user, items, scores };
    });
  }

  async recommend(req: RecommendRequest, opts: RecommendOptions = {}): Promise<Recommendation> {
    return (await this.run([this.prepare(req, opts)], opts))[0]!;
  }

  /** Many users at once: all checked first (the first bad request throws, naming `requests[i]`), then one native call. */
  async recommendBatch(reqs: readonly RecommendRequest[], opts: RecommendOptions = {}): Promise<Recommendation[]> {
    const prepared = reqs.map((r, i) => this.prepare(r, opts, `requests[${i}]`));
    return this.run(prepared, opts);
  }

  /**
   * The test protocol's outcome for examples of the prompt's task (src/prompts examples, their own joiners and
   * candidate lists): the 1-based rank of each target among the row's `returnSequences` outputs, 0 when absent.
   * An output counts as the target when it decodes to exactly the target id (REFERENCE.md §5). Constrained: the
   * row's candidates (matching) or the catalogue (sequential). `batchSize` rows per native call.
   */
  async rankTargets(
    examples: readonly PromptExample[],
    opts: { beams: number; returnSequences: number; maxLength?: number; constrained: boolean; batchSize?: number },
  ): Promise<Int32Array> {
    if (opts.constrained && this.task === 'sequential' && !this.catalogue) throw new PaprecError('rankTargets: constrained decoding needs the catalogue (a dataset)');
    const ranks = new Int32Array(examples.length);
    const size = opts.batchSize ?? 32;
    for (let start = 0; start < examples.length; start += size) {
      const part = examples.slice(start, start + size);
      const rows = part.map((ex) => {
        const row = renderExample(this.enc, this.promptFor(ex.user, 'example'), ex);
        const constraint: PreparedRequest['constraint'] = !opts.constrained
          ? null
          : this.task === 'matching'
            ? itemSequences([...new Set(ex.candidates ?? [])], this.enc)
            : 'catalogue';
        return { inputIds: row.inputIds, wholeWordIds: this.init.tokenizer.wholeWordIds(row.inputIds), constraint };
      });
      const outs = await this.generate(rows, opts);
      outs.forEach((o, i) => (ranks[start + i] = o.texts.indexOf(part[i]!.target) + 1));
    }
    return ranks;
  }

  /** Frees the backbone once its queued calls have ended (see Backbone.dispose). */
  dispose(): Promise<void> {
    return this.init.backbone.dispose();
  }
}
