// The one protocol's decoding table: what every caller (eval, the search's selection and report, pretraining
// validation) decodes with, and the refusal of a bad beam width or length.
import { describe, expect, it } from 'vitest';
import { MAX_LENGTH, selectionDecoding, testDecoding } from '../../src/protocol/decoding.js';
import { summaryText } from '../../src/report/index.js';

describe('decoding per task and criterion', () => {
  it('the test protocol: beam 20 returning 10 ranked items, or the best text; max length 50', () => {
    expect(testDecoding('sequential')).toEqual({ numBeams: 20, numReturnSequences: 10, maxLength: MAX_LENGTH, outcome: 'ranks' });
    expect(testDecoding('matching', { beams: 4 })).toEqual({ numBeams: 4, numReturnSequences: 4, maxLength: 50, outcome: 'ranks' });
    expect(testDecoding('explanation', { beams: 3, maxLength: 24 })).toEqual({ numBeams: 3, numReturnSequences: 1, maxLength: 24, outcome: 'ids' });
  });
  it('selection: surrogate = beam 5 returning 5, full = the test protocol, loss = no generation', () => {
    expect(selectionDecoding('sequential', 'surrogate')).toEqual({ numBeams: 5, numReturnSequences: 5, maxLength: 50, outcome: 'ranks' });
    expect(selectionDecoding('sequential', 'surrogate', { beams: 3 })!.numReturnSequences).toBe(3);
    expect(selectionDecoding('explanation', 'surrogate', { beams: 2, maxLength: 10 })).toEqual({ numBeams: 2, numReturnSequences: 1, maxLength: 10, outcome: 'ids' });
    expect(selectionDecoding('matching', 'full', { beams: 5, maxLength: 30 })).toEqual(testDecoding('matching', { maxLength: 30 }));
    expect(selectionDecoding('sequential', 'loss')).toBeUndefined();
  });
  it('refuses a beam width or length that is not a positive integer, naming it', () => {
    expect(() => testDecoding('sequential', { beams: 0 })).toThrow(/beams must be a positive integer, got 0/);
    expect(() => selectionDecoding('explanation', 'surrogate', { maxLength: 2.5 })).toThrow(/maxLength must be a positive integer, got 2.5/);
  });
});

describe('one cell rule for every table', () => {
  it('mean ± std for a row with distinct runs, the mean alone for one run, – without a finite mean', () => {
    expect(summaryText({ mean: 0.31234, std: 0.00456, n: 3 })).toBe('0.3123 ± 0.0046');
    expect(summaryText({ mean: 0.31234, std: 0, n: 1 })).toBe('0.3123');
    expect(summaryText({ mean: NaN, std: 0, n: 0 })).toBe('–');
    expect(summaryText(undefined)).toBe('–');
    expect(summaryText({ mean: 13.08166, std: 0.1, n: 2 }, 2)).toBe('13.08 ± 0.10');
  });
});
