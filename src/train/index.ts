/** Backbone pretraining on P5 tasks (issue 5): the trainer, the multi-task data, the resume state, `pretrain`. */
export { BackboneTrainer, TrainSet, type TrainerOptions, type OptimizerState, type TrainData, type TrainProgress, type EpochResult } from './trainer.js';
export { epochExamples, packTrainData, PRETRAIN_TASKS, type PretrainTask, MAX_SOURCE_TOKENS, MAX_TARGET_TOKENS, type EpochDataOptions, type TrainExample } from './data.js';
export { saveTrainState, loadTrainState, hasTrainState, identityMismatch, STATE_DIR, OPTIMIZERS, type Optimizer, type TrainState, type RunIdentity } from './state.js';
export { validate, validationSet, isBetter, KEEP_BEST_BY, type KeepBestBy, type Ranker, type Validation } from './validate.js';
export { pretrain, pretrainConfig, type PretrainOptions, type PretrainEvent, type PretrainResult } from './pretrain.js';
export { beamRanker } from './ranker.js';
