// Which pretraining epoch is kept: the surrogate (HR@5 + NDCG@5, ties broken by loss) or the validation loss alone.
import { describe, expect, it } from 'vitest';
import { isBetter } from '../../src/train/validate.js';

describe('isBetter', () => {
  const noisyHit = { loss: 3.11, hr5: 0.002, ndcg5: 0.0015, surrogate: 0.0035 };
  const lowerLoss = { loss: 3.05, hr5: 0.001, ndcg5: 0.0005, surrogate: 0.0015 };

  it('ranks by HR@5 + NDCG@5 first, the loss breaking ties', () => {
    expect(isBetter(noisyHit, lowerLoss)).toBe(true);
    expect(isBetter(lowerLoss, noisyHit)).toBe(false);
    expect(isBetter({ ...noisyHit, loss: 3.0 }, noisyHit)).toBe(true);
    expect(isBetter({ loss: 2.9 }, { loss: 3.0 })).toBe(true); // loss only measured
  });

  it('ranks by the loss alone when asked', () => {
    expect(isBetter(lowerLoss, noisyHit, 'loss')).toBe(true);
    expect(isBetter(noisyHit, lowerLoss, 'loss')).toBe(false);
  });

  it('takes any validation when nothing is kept yet', () => {
    expect(isBetter(noisyHit, undefined, 'loss')).toBe(true);
    expect(isBetter(noisyHit, undefined)).toBe(true);
  });
});
