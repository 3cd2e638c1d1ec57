/** Validation ranks by beam search on the evaluation engine (a resident example set of a manual prompt). */
import { ResidentExampleSet } from '../engine/index.js';
import type { Ranker } from './validate.js';

/** Item ids are a few tokens: 10 positions (start token included) is ample and keeps validation cheap. */
const MAX_ITEM_LENGTH = 10;

export const beamRanker: Ranker = async (backbone, set, { beams, topK }) => {
  const resident = ResidentExampleSet.upload(backbone, set, { batchSize: 64 });
  try {
    const [ranks] = await resident.evaluate([{ taskTokens: new Int32Array(set.numTaskSlots) }], {
      numBeams: beams,
      numReturnSequences: Math.min(topK, beams),
      maxLength: MAX_ITEM_LENGTH,
    });
    return ranks!;
  } finally {
    resident.dispose();
  }
};
