export { hitRate, hitRatePerExample, ndcg, ndcgPerExample, rankingMetrics, mean } from './ranking.js';
export { bleu4, bleu4PerExample } from './bleu.js';
export { rouge, rougePerExample, rougeN, rougeL, lcsLength } from './rouge.js';
export type { RougeScores, RougePerExample } from './rouge.js';
export { whitespaceTokens } from './tokens.js';
export { surrogate, SURROGATE_K } from './surrogate.js';
export type { Outcome, SurrogateWeights } from './surrogate.js';
