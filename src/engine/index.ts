/** The engine's evaluation side: resident example sets, slot gradients, HotFlip candidates. */
export {
  ResidentExampleSet,
  topCandidates,
  type Assignment,
  type UploadOptions,
  type EvaluateOptions,
  type SlotGradientOptions,
  type SlotGradients,
  type CandidateOptions,
  type SlotCandidates,
} from './residentSet.js';
export { modelSlotMask } from './slotMask.js';
export { projectSoftPrompt, trainSoftPrompt, type SoftPrompt, type SoftPromptOptions } from './softPrompt.js';
