/** The one evaluation protocol: decoding per task and criterion, outcome -> metrics, the test runs, `paprec eval`. */
export { CRITERIA, MAX_LENGTH, SURROGATE_BEAMS, SURROGATE_K, TEST_BEAMS, TEST_RETURN, isRanking, selectionDecoding, testDecoding } from './decoding.js';
export type { Criterion, Decoding, DecodingSettings } from './decoding.js';
export { decodeTexts, explanationMeasure, makeScorer, metricNames, rankingMeasure, testMeasure } from './measure.js';
export type { RowOutcomes, Scorer, TestMeasure } from './measure.js';
export { assignmentOfPrompt, evaluatePrompts, measurePrompt } from './evaluate.js';
export type { PromptUnderTest, ProtocolOptions, ProtocolResult } from './evaluate.js';
export { formatEvalTable, runEval } from './eval.js';
export type { EvalIo, EvalOptions, EvalReport, MetricSummary } from './eval.js';
