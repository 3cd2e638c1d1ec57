export type {
  AutomatedPrompt,
  ManualPrompt,
  Placement,
  Prompt,
  PromptExample,
  PromptKind,
  UserTokenPosition,
} from './types.js';
export { MANUAL_PROMPTS, baselinePrompt, manualPrompt, trainingTemplates } from './manual.js';
export {
  automatedPrompt,
  defaultUserToken,
  slotsPerRow,
  taskArgText,
  withTaskToken,
  withUserTokens,
} from './automated.js';
export type { AutomatedPromptOptions } from './automated.js';
export { manualText, renderExample, renderedText, slotIds } from './render.js';
export type { RenderedRow } from './render.js';
export { SegmentEncoder } from './segmentEncoder.js';
export { HISTORY_JOINERS, historyJoiner, promptExamples } from './examples.js';
export { buildExampleSet, exampleTexts, packExampleSet } from './exampleSet.js';
export type { ExampleSetOptions } from './exampleSet.js';
