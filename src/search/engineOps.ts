/** EngineOps over src/engine: resident example sets (slot mask checked at upload) and the vocabulary top-k. */
import type { ExampleSet } from '../types.js';
import type { Backbone } from '../backbone/index.js';
import { ResidentExampleSet, topCandidates } from '../engine/index.js';
import type { EngineOps, ResidentSetLike } from './backend.js';

/** `vocabLimit`: the tokenizer's piece count; model rows beyond it are never generated. */
export function engineOps(backbone: Backbone, streams?: number, slotMask?: Uint8Array, vocabLimit?: number): EngineOps {
  return {
    async upload(set: ExampleSet): Promise<ResidentSetLike> {
      const resident = ResidentExampleSet.upload(backbone, set, {
        ...(streams !== undefined ? { streams: Math.max(1, streams) } : {}),
        ...(slotMask ? { slotMask } : {}),
        ...(vocabLimit !== undefined ? { vocabLimit } : {}),
      });
      return {
        size: resident.size,
        evaluate: (assignments, o) =>
          resident.evaluate([...assignments], {
            numBeams: o.numBeams,
            numReturnSequences: o.numReturnSequences,
            maxLength: o.maxLength,
            earlyStopping: true,
            outcome: o.ranking ? 'ranks' : 'ids',
          }),
        loss: (assignments) => resident.loss([...assignments]),
        slotGradients: (a, o) => resident.slotGradients(a, o),
        dispose: () => resident.dispose(),
      };
    },
    async topCandidates(g, rows, k, mask) {
      return (await topCandidates(backbone, g, rows, k, mask)).ids;
    },
  };
}
