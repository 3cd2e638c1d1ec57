/**
 * The model card (README.md) written with every checkpoint: which member of the T5 family it is and its shapes,
 * so a folder says what it holds without reading config.json.
 */
import { type P5Config, modelFamily, parameterCount } from './config.js';

export function modelCard(config: P5Config): string {
  const c = config;
  const rows: [string, string][] = [
    ['family', modelFamily(c)],
    ['feed_forward_proj', c.feedForwardProj],
    ['tie_word_embeddings', String(c.tieWordEmbeddings)],
    ['whole_word_embeddings', c.wholeWordEmbeddings ? `true (${c.wholeWordSize} rows)` : 'false'],
    ['vocab_size', String(c.vocabSize)],
    ['d_model / d_kv x num_heads / d_ff', `${c.dModel} / ${c.dKv} x ${c.numHeads} / ${c.dFf}`],
    ['layers (encoder + decoder)', `${c.numLayers} + ${c.numDecoderLayers}`],
    ['parameters', parameterCount(c).toLocaleString('en-US')],
  ];
  return [
    '# paprec checkpoint',
    '',
    `${modelFamily(c)}, written by paprec: \`config.json\` (Hugging Face T5Config, plus P5's \`whole_word_*\` keys) and`,
    '`model.safetensors` (float32, Hugging Face tensor names).',
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
}
