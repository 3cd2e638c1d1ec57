import { readFileOrFail } from '../util/fs.js';
import { decodeSentencePieceModel } from './spmProto.js';
import { buildTokenizerJson, T5_EXTRA_IDS, type TokenizerJson } from './tokenizerJson.js';

/** Parse a SentencePiece `.model` file into the tokenizer.json object (see buildTokenizerJson). */
export async function convertSentencePieceToJson(modelPath: string, extraIds = T5_EXTRA_IDS): Promise<TokenizerJson> {
  const bytes = await readFileOrFail(modelPath, 'SentencePiece model');
  return buildTokenizerJson(decodeSentencePieceModel(bytes, modelPath), modelPath, extraIds);
}

/** T5's `spiece.model` -> the text of an equivalent HF `tokenizer.json` (with T5's 100 `<extra_id_N>`). */
export async function convertSentencePiece(modelPath: string): Promise<string> {
  return JSON.stringify(await convertSentencePieceToJson(modelPath));
}
