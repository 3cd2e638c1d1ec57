/** Validation ranks by beam search on the evaluation engine (a resident example set of a manual prompt). */
import { ResidentExampleSet } from '../engine/index.js';
import type { Ranker } from './validate.js';

export const beamRanker: Ranker = async (backbone, set, d) => {
  const resident = ResidentExampleSet.upload(backbone, set, { batchSize: 64 });
  try {
    const [ranks] = await resident.evaluate([{ taskTokens: new Int32Array(set.numTaskSlots) }], {
      numBeams: d.numBeams,
      numReturnSequences: d.numReturnSequences,
      maxLength: d.maxLength,
      outcome: 'ranks',
    });
    return ranks!;
  } finally {
    await resident.dispose();
  }
};
