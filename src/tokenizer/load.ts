import * as path from 'node:path';
import type { Tokenizer } from '../types.js';
import { fail } from '../errors.js';
import { readFileOrFail } from '../util/fs.js';
import { decodeSentencePieceModel } from './spmProto.js';
import { buildTokenizerJson, type TokenizerJson } from './tokenizerJson.js';
import { SentencePieceTokenizer } from './sentencePieceTokenizer.js';
import { HfTokenizer } from './hfTokenizer.js';

/**
 * Load a tokenizer: an HF `tokenizer.json`, or a SentencePiece `.model` (converted on the fly). Files that are
 * neither `.json` nor `.model` are told apart by content (a JSON object starts with `{`).
 */
export async function loadTokenizer(file: string): Promise<Tokenizer> {
  const bytes = await readFileOrFail(file, 'tokenizer');
  const ext = path.extname(file).toLowerCase();
  const looksJson = ext === '.json' || (ext !== '.model' && firstNonSpace(bytes) === 0x7b);
  if (!looksJson) {
    const json = buildTokenizerJson(decodeSentencePieceModel(bytes, file), file);
    return new SentencePieceTokenizer(json, file);
  }
  const text = bytes.toString('utf8');
  let json: TokenizerJson;
  try {
    json = JSON.parse(text) as TokenizerJson;
  } catch (err) {
    fail(file, `tokenizer.json is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || typeof json.model !== 'object' || json.model === null) {
    fail(file, 'tokenizer.json has no "model" object');
  }
  return tokenizerFromJson(json, file, text);
}

/** A tokenizer from a parsed tokenizer.json: exact SentencePiece engine when it applies, the HF library otherwise. */
export function tokenizerFromJson(json: TokenizerJson, where: string, text?: string): Tokenizer {
  if (SentencePieceTokenizer.handles(json)) return new SentencePieceTokenizer(json, where, text);
  return new HfTokenizer(json, where, text ?? JSON.stringify(json));
}

function firstNonSpace(bytes: Uint8Array): number {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0xef && b !== 0xbb && b !== 0xbf) return b;
  return -1;
}
