/** Applying a prompt: the Recommender, its request checks, the batching server. */
export {
  Recommender,
  RequestError,
  DEFAULT_BEAMS,
  DEFAULT_K,
  type LoadRecommenderOptions,
  type PreparedRequest,
  type Recommendation,
  type RecommendOptions,
  type RecommendRequest,
  type RecommenderInit,
  type RowOutputs,
} from './recommender.js';
export { Catalogue, generatedText, itemOfText, itemSequences, type SequenceSet } from './catalogue.js';
export { loadRecommendPrompt, RECOMMEND_TASKS } from './prompt.js';
export { RecommendServer, SERVE_DEFAULTS, type ServeOptions } from './server.js';
export { Batcher, QueueFullError, type BatcherOptions } from './batcher.js';
