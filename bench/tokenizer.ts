import { fileURLToPath } from 'node:url';
import { convertSentencePieceToJson } from '../src/tokenizer/convert.js';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencePieceTokenizer.js';

const SPIECE = fileURLToPath(new URL('../../shared/data/t5/spiece.model', import.meta.url));

/** P5-style sequential prompts (prompt 2-3) with seeded user ids and histories. */
function prompts(count: number): string[] {
  let state = 12345;
  const rand = (m: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return 1 + (state % m);
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const history = Array.from({ length: 2 + rand(8) }, () => rand(12101)).join(' , ');
    out.push(`Here is the purchase history list of user_${rand(22363)} : \n ${history} \n try to recommend next item to the user`);
  }
  return out;
}

/** Times converting spiece.model (+ building the tokenizer) and encoding 10,000 P5 prompts. */
export async function benchTokenizer(): Promise<Record<string, number>> {
  let t = performance.now();
  const json = await convertSentencePieceToJson(SPIECE);
  const convertMs = performance.now() - t;
  t = performance.now();
  const tok = new SentencePieceTokenizer(json, SPIECE);
  const buildMs = performance.now() - t;
  const texts = prompts(10_000);
  // First pass: cold (JIT warming up); second pass: the steady state that a 200k-prompt example set runs at.
  t = performance.now();
  for (const s of texts) tok.encode(s);
  const coldMs = performance.now() - t;
  t = performance.now();
  let tokens = 0;
  for (const s of texts) tokens += tok.encode(s).length;
  const encodeMs = performance.now() - t;
  return {
    'tokenizer.convert_ms': convertMs,
    'tokenizer.build_ms': buildMs,
    'tokenizer.encode_10k_cold_ms': coldMs,
    'tokenizer.encode_10k_ms': encodeMs,
    'tokenizer.encode_us_per_prompt': (encodeMs * 1000) / texts.length,
    'tokenizer.tokens_per_s': tokens / (encodeMs / 1000),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await benchTokenizer());
}
