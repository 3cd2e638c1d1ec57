/**
 * Timing with the `benchmark` package: each case is an async operation run as a deferred Benchmark.js test, so the
 * numbers come with Benchmark's sampling (mean over cycles, relative margin of error). Used to compare paprec's
 * paths with the simpler ones in the same process.
 */
import Benchmark from 'benchmark';

export interface Timed {
  /** operations per second */
  hz: number;
  /** relative margin of error, percent */
  rme: number;
  samples: number;
}

/** Runs `cases` (name -> async op) in one Benchmark suite; `maxTime` seconds per case (at least `minSamples` runs). */
export function timeAsync(cases: Record<string, () => Promise<unknown>>, opts: { maxTime?: number; minSamples?: number } = {}): Promise<Record<string, Timed>> {
  return new Promise((resolve, reject) => {
    const suite = new Benchmark.Suite();
    for (const [name, op] of Object.entries(cases)) {
      suite.add(name, {
        defer: true,
        maxTime: opts.maxTime ?? 5,
        minSamples: opts.minSamples ?? 2,
        initCount: 1,
        fn: (deferred: { resolve(): void }) => {
          op().then(() => deferred.resolve(), reject);
        },
      });
    }
    const out: Record<string, Timed> = {};
    suite.on('cycle', (event: Benchmark.Event) => {
      const b = event.target as unknown as Benchmark;
      out[b.name!] = { hz: b.hz, rme: b.stats.rme, samples: b.stats.sample.length };
    });
    suite.on('complete', () => resolve(out));
    suite.on('error', (event: Benchmark.Event) => reject((event.target as unknown as Benchmark).error));
    suite.run({ async: true });
  });
}
