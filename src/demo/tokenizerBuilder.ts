/**
 * The demo's own tokenizer: no T5 vocabulary can be downloaded, so paprec builds a small SentencePiece-style Unigram
 * tokenizer.json from the demo corpus.
 *
 * Layout (chosen to behave like T5's vocabulary where P5 depends on it):
 * - ids 0 `<pad>`, 1 `</s>`, 2 `<unk>` (T5's specials), then `▁` alone;
 * - one `▁word` piece per corpus word, case kept (titles are capitalised, P5 text is mostly lowercase, and the prompt
 *   text must round-trip), scored by log frequency so a known word is always one piece;
 * - punctuation as word starts (`▁:`, `▁,`, `▁->`...) and continuations (`_`, `:`, `'`...);
 * - numbers start with a one- or two-digit word piece (`▁7`, `▁42`) and continue with single digits (`1234` ->
 *   `▁12` `3` `4`, `user_12` -> `▁user` `_` `1` `2`): ids of three or more digits are several pieces, as in P5, while
 *   the demo's small catalogue keeps most items one piece and learnable in minutes; one segmentation per number
 *   (two-digit continuations would tie, `34`+`5` vs `3`+`45`, and tokenizers break ties differently);
 * - with `users: N`, one continuation piece per user id, underscore included (`user_123` -> `▁user` `_123`), as T5's
 *   vocabulary gives most ids up to a few hundred one or two pieces (`user_123` -> `▁user` `_` `123`). Items never
 *   hold `_`, so they keep the number rule above. Off in the demo: it did not make the demo backbone learn its users
 *   on matching (README "Matching on the demo backbone", scripts/matching-probe.mjs);
 * - every printable ASCII character as a low-scored fallback, so unseen words still encode without `<unk>`.
 *
 * Whitespace: any whitespace run (P5 prompts hold ` \n `) separates words and the ends are dropped, as T5's
 * SentencePiece normalizer does; a Metaspace pre-tokenizer then marks word starts with `▁`, and a TemplateProcessing
 * post-processor appends `</s>`.
 */

export const WORD_START = '\u2581';
export const DEMO_SPECIALS = ['<pad>', '</s>', '<unk>'] as const;

export interface DemoTokenizerOptions {
  /** At most this many corpus words become pieces, the most frequent first (default 3000). */
  maxWords?: number;
  /** One piece `_u` for each user id u in 1..users (default 0: user ids are spelt in digits like any number). */
  users?: number;
}

/** Punctuation that P5 prompts use as separate words and inside words. */
const PUNCT_WORDS = [':', ',', '?', '->', '.', '!', '-', '(', ')', "'", '"', '/', '&', ';', '+', '*', '|', '[', ']', '$', '%'];
const PUNCT_CONT = ['_', ':', ',', '?', '.', '!', '-', "'", '"', '/', '&', ')', '(', ';', '%', '+'];

// Scores (log-probabilities): Viterbi maximises their sum, so a word piece must beat any spelling of it.
const SCORE_WORD_START = -3; // `▁` alone: only for stray spaces
const SCORE_PUNCT = -6;
const SCORE_DIGIT = -6;
const SCORE_DIGITS_START = -5.5; // `▁42` before `▁4` `2`: a number starts with the longest word-start piece
const SCORE_USER = -10; // `_123` before `_` `1` `2` `3` (-24) and `_12` `3` (-16)
const SCORE_CHAR = -30; // fallback letters: a 2-letter spelling (-60) loses to any word (>= -20)
const SCORE_WORD_MIN = -20;

/** Split one whitespace-free token into its runs: letters, single digits, single other characters. */
function runs(token: string): string[] {
  return token.match(/[A-Za-z\u00C0-\u024F]+|[0-9]|[^A-Za-z0-9\u00C0-\u024F]/gu) ?? [];
}

/** The normalized text the tokenizer sees: whitespace runs -> one space, ends stripped. */
export function normalizeDemoText(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Build a tokenizer.json (as text) for `corpus`. Deterministic: the same corpus gives the same bytes. */
export function buildDemoTokenizer(corpus: readonly string[], opts: DemoTokenizerOptions = {}): string {
  const maxWords = opts.maxWords ?? 3000;
  const users = opts.users ?? 0;
  if (!Number.isInteger(users) || users < 0) throw new RangeError(`buildDemoTokenizer: users must be a non-negative integer, got ${users}`);
  // Count word pieces (`▁run` for a token's leading letter run) and continuation letter runs.
  const wordCounts = new Map<string, number>();
  const contCounts = new Map<string, number>();
  let total = 0;
  for (const text of corpus) {
    for (const token of normalizeDemoText(text).split(' ')) {
      if (token === '') continue;
      const parts = runs(token);
      parts.forEach((part, k) => {
        if (!/^[A-Za-z\u00C0-\u024F]+$/u.test(part)) return;
        const counts = k === 0 ? wordCounts : contCounts;
        const piece = k === 0 ? WORD_START + part : part;
        counts.set(piece, (counts.get(piece) ?? 0) + 1);
        total++;
      });
    }
  }

  const vocab: Array<[string, number]> = DEMO_SPECIALS.map((s) => [s, 0]);
  const have = new Set<string>(DEMO_SPECIALS);
  const add = (piece: string, score: number): void => {
    if (have.has(piece)) return;
    have.add(piece);
    vocab.push([piece, score]);
  };
  add(WORD_START, SCORE_WORD_START);
  for (const p of PUNCT_WORDS) add(WORD_START + p, SCORE_PUNCT);
  for (const p of PUNCT_CONT) add(p, SCORE_PUNCT);
  for (let d = 0; d <= 9; d++) add(WORD_START + d, SCORE_DIGIT);
  for (let d = 0; d <= 9; d++) add(String(d), SCORE_DIGIT);
  for (let d = 10; d <= 99; d++) add(WORD_START + d, SCORE_DIGITS_START);
  for (let u = 1; u <= users; u++) add(`_${u}`, SCORE_USER);

  // Most frequent first; ties by code-unit order so the result never depends on Map insertion order.
  const byFreq = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const logp = (count: number) => Math.max(SCORE_WORD_MIN, Math.log(count / Math.max(total, 1)));
  const words = [...wordCounts.entries(), ...contCounts.entries()].sort(byFreq).slice(0, maxWords);
  for (const [piece, count] of words) add(piece, round(logp(count)));

  // Fallback characters: printable ASCII, as word starts and continuations.
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    add(WORD_START + ch, SCORE_CHAR);
    add(ch, SCORE_CHAR);
  }

  const eos = { id: '</s>', type_id: 0 };
  const metaspace = { type: 'Metaspace', replacement: WORD_START, add_prefix_space: true, prepend_scheme: 'always', split: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: DEMO_SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    // The layout of HF's own T5 converter (and of src/tokenizer's spiece.model conversion): the charsmap turns
    // control whitespace into spaces, space runs collapse, WhitespaceSplit breaks words, Metaspace prefixes each.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Precompiled', precompiled_charsmap: whitespaceCharsmap() },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: eos }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: eos }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: eos }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { ...metaspace },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
  return JSON.stringify(json, null, 1);
}

/** Control whitespace that T5's charsmap (nmt_nfkc) maps to a space: tab, newline, vertical tab, form feed, CR. */
const SPACE_LIKE = [0x09, 0x0a, 0x0b, 0x0c, 0x0d];

/**
 * A SentencePiece precompiled charsmap (base64) mapping each SPACE_LIKE byte to " ", so the exact SentencePiece
 * engine reads P5's ` \n ` as whitespace, as T5's does. Layout: uint32 LE trie byte size, a darts-clone double-array
 * trie, then the NUL-terminated replacement blob. Units: bits 0-7 label, bit 8 has-leaf, offset = unit >>> 10;
 * a value unit has bit 31 set. The trie is tiny: root at 0 with offset 16, the node of byte c at 16 ^ c (label c,
 * has-leaf, offset 32), its value unit at (16 ^ c) ^ 32 holding blob offset 0. Unused units carry bit 31 so no
 * label ever matches them (a zero unit would match the NUL byte).
 */
export function whitespaceCharsmap(): string {
  const ROOT_OFFSET = 16;
  const LEAF_OFFSET = 32;
  const units = new Uint32Array(64).fill(0x80000000);
  units[0] = ROOT_OFFSET << 10;
  for (const c of SPACE_LIKE) {
    const node = ROOT_OFFSET ^ c;
    units[node] = (c | (1 << 8) | (LEAF_OFFSET << 10)) >>> 0;
    units[node ^ LEAF_OFFSET] = 0x80000000; // value 0: the blob offset of " "
  }
  const blob = new Uint8Array([0x20, 0x00]);
  const bytes = new Uint8Array(4 + units.length * 4 + blob.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, units.length * 4, true);
  units.forEach((u, i) => view.setUint32(4 + 4 * i, u, true));
  bytes.set(blob, 4 + units.length * 4);
  return Buffer.from(bytes).toString('base64');
}

/** Scores rounded to 6 decimals: stable bytes across platforms' last-bit differences in Math.log. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
