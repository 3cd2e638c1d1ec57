/**
 * paprec: PAP-REC prompt search for P5 recommendation models.
 * The public API: backbone (the native P5 model), tokenizer, data, prompts, metrics, checkpoints.
 */
export * from './types.js';
export { PaprecError } from './errors.js';
export { Backbone, type BackboneOptions, type Device, type Dtype, type ForwardResult, type InputGradientsResult, type TokenBatch } from './backbone/index.js';
export { native, type NativeInfo } from './native.js';
export {
  loadCheckpoint, saveCheckpoint, resolveConfig, parseHfConfig, toHfConfig, parameterCount, PRESETS,
  type P5Config, type ConfigInput, type LoadedCheckpoint,
} from './checkpoint/index.js';
export { loadTokenizer, convertSentencePiece, SentencePieceTokenizer, HfTokenizer } from './tokenizer/index.js';
export { loadDataset, computeStats, prepareDataset, rngFor, type P5Dataset, type LoadDatasetOptions } from './data/index.js';
export * from './data/splits.js';
export {
  MANUAL_PROMPTS, baselinePrompt, manualPrompt, trainingTemplates, automatedPrompt, buildExampleSet, exampleTexts,
  renderedText, type Prompt, type ManualPrompt, type AutomatedPrompt,
} from './prompts/index.js';
export * from './metrics/index.js';
export { ResidentExampleSet, topCandidates, type Assignment, type EvaluateOptions, type SlotGradients, type CandidateOptions, type SlotCandidates } from './engine/index.js';
export { projectSoftPrompt, trainSoftPrompt, type SoftPrompt, type SoftPromptOptions } from './engine/index.js';
export { runSearch, rebuildReport, PapRecSearch, type RunSearchInput, type RunSearchResult } from './search/index.js';
export {
  runEval, evaluatePrompts, testDecoding, selectionDecoding, makeScorer, metricNames,
  type EvalOptions, type EvalReport, type Decoding, type PromptUnderTest,
} from './protocol/index.js';
export { pretrain, BackboneTrainer, TrainSet, type PretrainOptions, type PretrainResult } from './train/index.js';
export { reportJson, reportMarkdown, plotLines, pairedTTest } from './report/index.js';
export { runDemo, generateWorld, buildDemoTokenizer, type DemoOptions, type DemoResult } from './demo/index.js';
export {
  Recommender, RecommendServer, RequestError, loadRecommendPrompt, SERVE_DEFAULTS,
  type Recommendation, type RecommendOptions, type RecommendRequest, type ServeOptions,
} from './recommend/index.js';
