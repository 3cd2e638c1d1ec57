export { loadTokenizer, tokenizerFromJson } from './load.js';
export { convertSentencePiece, convertSentencePieceToJson } from './convert.js';
export { SentencePieceTokenizer, type EncodeOptions } from './sentencePieceTokenizer.js';
export { HfTokenizer } from './hfTokenizer.js';
export { buildTokenizerJson, T5_EXTRA_IDS, type TokenizerJson } from './tokenizerJson.js';
