/**
 * Data-layer speed: reading the Beauty folder (22,363 users, 198,502 interactions) with loadDataset, negatives
 * generated from the seed as ../shared/data has none, and building its validation / train example lists.
 */
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../src/data/dataset.js';
import { matchingExamples, sequentialExamples } from '../src/data/splits.js';

const BEAUTY = fileURLToPath(new URL('../../shared/data/beauty', import.meta.url));

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

/** Median wall times in ms over `runs` repetitions (after one warm-up). */
export async function benchData(runs = 5): Promise<Record<string, number>> {
  const load: number[] = [];
  const seqVal: number[] = [];
  const seqTrain: number[] = [];
  const matchVal: number[] = [];
  for (let r = 0; r <= runs; r++) {
    let t = performance.now();
    const ds = await loadDataset(BEAUTY);
    const loadMs = performance.now() - t;
    t = performance.now();
    sequentialExamples(ds, 'val');
    const seqValMs = performance.now() - t;
    t = performance.now();
    sequentialExamples(ds, 'train');
    const seqTrainMs = performance.now() - t;
    t = performance.now();
    matchingExamples(ds, 'val');
    const matchValMs = performance.now() - t;
    if (r === 0) continue; // warm-up: JIT and file cache
    load.push(loadMs);
    seqVal.push(seqValMs);
    seqTrain.push(seqTrainMs);
    matchVal.push(matchValMs);
  }
  return {
    'data.load_beauty_ms': median(load),
    'data.sequential_val_beauty_ms': median(seqVal),
    'data.sequential_train_beauty_ms': median(seqTrain),
    'data.matching_val_beauty_ms': median(matchVal),
  };
}

// Run directly: `npx tsx bench/data.ts`.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchData().then((r) => console.log(JSON.stringify(r, null, 2)));
}
