/** The data layer: P5 folders, splits, seeded randomness, `paprec prepare`. */
export { loadDataset, DEFAULT_SEED, FILES, type LoadDatasetOptions, type P5Dataset } from './dataset.js';
export { computeStats, formatStats } from './stats.js';
export {
  sequentialExamples,
  matchingExamples,
  explanationExamples,
  sampleTrainWindow,
  numTrainWindows,
  MAX_HISTORY,
  type SequentialExample,
  type MatchingExample,
  type ExplanationExample,
} from './splits.js';
export { Rng, rngFor, deriveSeed } from './rng.js';
export { NegativeSampler, sampleNegatives, NUM_NEGATIVES } from './negatives.js';
export { parseDatamaps, type Datamaps } from './datamaps.js';
export { parsePythonLiteral, type PyValue } from './pyLiteral.js';
export { picklePlain, PyTuple, PyFloat, type PlainValue } from './pickleWriter.js';
export { gunzipOrFail } from './gzip.js';
export { parseInteractionLog, LOG_FORMATS, type Interaction, type LogFormat } from './interactionLog.js';
export { prepareDataset, kCore, numberP5, type PrepareOptions, type PrepareResult } from './prepare.js';
export { MIN_SEQUENCE_LENGTH } from './sequential.js';
