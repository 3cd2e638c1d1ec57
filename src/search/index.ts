/** PAP-REC prompt search (paper §3-§4): the algorithm, its state files and the report (the protocol: src/protocol). */
export type { Assignment, RowOutcomes, SearchBackend, Scorer, TrainingPool, UserCandidates } from './types.js';
export { resolveSearchOptions, parseLengths, checkAgainstVocabulary, DEFAULTS, CRITERIA } from './options.js';
export type { Criterion, PlacementOption, SearchOptions, SearchOptionsInput } from './options.js';
export { composeOutcomes, outcomeFromJson, outcomeToJson, rowsByUser } from './outcomes.js';
export { PapRecSearch } from './search.js';
export type { ProgressEvent, SearchContext } from './search.js';
export { pickSlot, untriedSlots, gradientSampleSeed } from './schedule.js';
export { loadState, saveState, variantSpecs, initialVariantState, STATE_FILE, HISTORY_FILE } from './state.js';
export type { RunState, VariantState, VariantSpec, PromptTokens } from './state.js';
export { readHistory, appendHistory, truncateHistory } from './history.js';
export type { HistoryRecord, CandidateRecord, PoolRecord, PoolCandidateRecord } from './history.js';
export { poolSampleRows, lossOrder, meanLoss } from './pool.js';
export { EngineBackend } from './backend.js';
export type { EngineBackendOptions } from './backend.js';
export { buildReport, writeReportFiles, promptJson, surrogatePlot, lengthPlot, readResults, chosenVariant, automatedRows } from './report.js';
export type { SearchResults, PromptJson } from './report.js';
export { runSearch, rebuildReport } from './run.js';
export type { RunSearchInput, RunSearchResult, RunProgress } from './run.js';
