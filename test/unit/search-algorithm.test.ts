// The PAP-REC schedule on a toy problem with a known optimum: every slot and every user has a "right" token, a row's
// target rank grows with the number of wrong tokens it sees, and the "gradient" ranks tokens by closeness to the
// right one. No engine: this checks the search logic (acceptance, convergence, alternation, per-user acceptance,
// determinism, resume) on exact numbers.
import { describe, expect, it } from 'vitest';
import { PapRecSearch, type SearchContext } from '../../src/search/search.js';
import { makeScorer } from '../../src/protocol/measure.js';
import { initialVariantState, type VariantState } from '../../src/search/state.js';
import type { HistoryRecord } from '../../src/search/history.js';
import type { Assignment, RowOutcomes, SearchBackend, TrainingPool } from '../../src/search/types.js';
import { pickSlot, untriedSlots } from '../../src/search/schedule.js';

const V = 60;
const FIRST_WORD = 4; // ids below are "special": never candidates

interface ToyOptions {
  /** Distance bucket of the "gradient": the coarser, the further from the right token its first k may sit. */
  quantum?: number;
  /** Users with rows in the training pool (default all); the pool's loss is the cost itself, so it ranks exactly. */
  poolUsers?: number[];
}

class ToyBackend implements SearchBackend {
  readonly valUserIndex: Int32Array;
  readonly pool: TrainingPool;
  evaluations = 0;
  gradientPasses = 0;
  lossPasses = 0;
  private readonly quantum: number;
  constructor(readonly numTaskSlots: number, readonly numUsers: number, readonly personalized: boolean, rowsPerUser = 3, o: ToyOptions = {}) {
    this.valUserIndex = Int32Array.from({ length: numUsers * rowsPerUser }, (_, i) => i % numUsers);
    this.quantum = o.quantum ?? 4;
    const poolUsers = o.poolUsers ?? Array.from({ length: numUsers }, (_, u) => u);
    const userIndex = Int32Array.from([...poolUsers, ...poolUsers]); // two training rows per user
    this.pool = {
      userIndex,
      loss: async (as) => {
        this.lossPasses++;
        return as.map((a) => Float32Array.from(userIndex, (u) => this.wrong(a, u)));
      },
    };
  }
  rightTask(s: number): number { return FIRST_WORD + ((7 * s + 11) % (V - FIRST_WORD)); }
  rightUser(u: number): number { return FIRST_WORD + ((13 * u + 5) % (V - FIRST_WORD)); }
  /** Cost of a token: 0 when right, 1 when within 3 ids, else 2. */
  private cost(t: number, right: number): number {
    const d = Math.abs(t - right);
    return d === 0 ? 0 : d <= 3 ? 1 : 2;
  }
  /** Total cost of user u's row under `a`. */
  private wrong(a: Assignment, u: number): number {
    let w = 0;
    for (let s = 0; s < this.numTaskSlots; s++) w += this.cost(a.taskTokens[s]!, this.rightTask(s));
    if (this.personalized) w += this.cost(a.userTokens![u]!, this.rightUser(u));
    return w;
  }
  async evaluate(as: readonly Assignment[]): Promise<RowOutcomes[]> {
    this.evaluations += as.length;
    // Rank 1 with every token right, one place lower per 3 units of cost; rows differ by an offset so any change shows.
    return as.map((a) => ({ kind: 'ranks', ranks: Int32Array.from(this.valUserIndex, (u, r) => 1 + Math.floor((this.wrong(a, u) + (r % 3)) / 3)) }));
  }
  /** Closest first to the right token, ties to the smaller id; k + 1 requested, the current token dropped. */
  private nearest(right: number, k: number, exclude: number): number[] {
    const ids = [];
    for (let t = FIRST_WORD; t < V; t++) if (t !== exclude) ids.push(t);
    // A coarse "gradient": distance quantised (by 4: the right token is among the top 5 but not always first).
    const q = this.quantum;
    ids.sort((x, y) => Math.floor(Math.abs(x - right) / q) - Math.floor(Math.abs(y - right) / q) || x - y);
    return ids.slice(0, k);
  }
  async taskCandidates(a: Assignment, k: number): Promise<Int32Array> {
    this.gradientPasses++;
    const out = new Int32Array(this.numTaskSlots * k);
    for (let s = 0; s < this.numTaskSlots; s++) out.set(this.nearest(this.rightTask(s), k, a.taskTokens[s]!), s * k);
    return out;
  }
  async userCandidates(a: Assignment, k: number) {
    this.gradientPasses++;
    const candidates = new Int32Array(this.numUsers * k);
    const hasData = new Uint8Array(this.numUsers).fill(1);
    hasData[this.numUsers - 1] = 0; // a user without training data keeps the default
    for (let u = 0; u < this.numUsers; u++) candidates.set(this.nearest(this.rightUser(u), k, a.userTokens![u]!), u * k);
    return { candidates, hasData };
  }
}

function freshState(length: number, personalized: boolean, users: number): VariantState {
  return initialVariantState(
    { name: personalized ? 'p-l' + length : 'np-l' + length, length, personalized, placement: 'suffix' },
    { taskTokens: new Array(length).fill(FIRST_WORD), ...(personalized ? { userTokens: new Array(users).fill(FIRST_WORD) } : {}) },
  );
}

async function runToy(state: VariantState, backend: SearchBackend, opts: { epochs?: number; stopAfter?: number; seed?: number; pool?: number } = {}) {
  const history: HistoryRecord[] = [];
  let commits = 0;
  const ctx: SearchContext = {
    backend,
    scorer: makeScorer('sequential', 'surrogate', { alphaSeq: 1, alphaExp: 0.1 }),
    opts: { k: 5, epochs: opts.epochs ?? 50, seed: opts.seed ?? 7, ...(opts.pool !== undefined ? { pool: opts.pool } : {}) },
    state,
    tokenText: (id) => `t${id}`,
    commit: async (r) => { history.push(r); commits++; },
    shouldStop: () => opts.stopAfter !== undefined && commits >= opts.stopAfter,
  };
  const result = await new PapRecSearch(ctx).run();
  return { result, history, state };
}

describe('slot schedule', () => {
  it('draws only untried slots, reproducibly, and stops when all failed', () => {
    expect(untriedSlots(5, [1, 3])).toEqual([0, 2, 4]);
    for (let round = 0; round < 50; round++) {
      const s = pickSlot(1, 'x', round, 5, [1, 3])!;
      expect([0, 2, 4]).toContain(s);
      expect(pickSlot(1, 'x', round, 5, [1, 3])).toBe(s);
    }
    expect(pickSlot(1, 'x', 0, 3, [0, 1, 2])).toBeUndefined();
    const draws = new Set(Array.from({ length: 40 }, (_, r) => pickSlot(1, 'x', r, 5, [])));
    expect(draws.size).toBe(5);
  });
});

describe('non-personalized search', () => {
  it('only accepts strict improvements and converges to the optimum', async () => {
    const backend = new ToyBackend(4, 6, false);
    const { result, history, state } = await runToy(freshState(4, false, 6), backend);
    expect(result).toBe('done');
    expect(state.stopReason).toBe('converged');
    expect(state.current.taskTokens).toEqual([0, 1, 2, 3].map((s) => backend.rightTask(s)));
    expect(state.bestScore!).toBeGreaterThan(state.startScore!);
    for (const h of history.slice(1)) {
      if (h.accepted) expect(h.after).toBeGreaterThan(h.before);
      else expect(h.after).toBe(h.before);
      expect(h.candidates).toHaveLength(5);
      expect(h.after).toBe(Math.max(h.before, ...(h.accepted ? h.candidates.map((c) => c.score) : [])));
    }
    // The last |slots| rounds all failed, each on a different slot.
    const tail = history.slice(-4);
    expect(tail.every((h) => !h.accepted)).toBe(true);
    expect(new Set(tail.map((h) => h.slot)).size).toBe(4);
    // Gradients are recomputed only after an accepted change (plus the first).
    const acceptedCount = history.filter((h) => h.accepted).length;
    expect(backend.gradientPasses).toBe(acceptedCount + 1);
    // Curve is monotone in the best score.
    for (let i = 1; i < state.curve.length; i++) expect(state.curve[i]!.best).toBeGreaterThanOrEqual(state.curve[i - 1]!.best);
  });

  it('stops at the epoch budget', async () => {
    const { state, history } = await runToy(freshState(4, false, 6), new ToyBackend(4, 6, false), { epochs: 3 });
    expect(state.stopReason).toBe('max-epochs');
    expect(state.epoch).toBe(3);
    expect(history).toHaveLength(4);
  });

  it('is deterministic and resumes to the same prompts as a straight run', async () => {
    const straight = await runToy(freshState(4, false, 6), new ToyBackend(4, 6, false));
    const again = await runToy(freshState(4, false, 6), new ToyBackend(4, 6, false));
    expect(again.state.current).toEqual(straight.state.current);
    expect(again.history.map((h) => h.slot)).toEqual(straight.history.map((h) => h.slot));

    const first = await runToy(freshState(4, false, 6), new ToyBackend(4, 6, false), { stopAfter: 4 });
    expect(first.result).toBe('interrupted');
    const saved = JSON.parse(JSON.stringify(first.state)) as VariantState; // what state.json holds
    const rest = await runToy(saved, new ToyBackend(4, 6, false));
    expect(rest.state.current).toEqual(straight.state.current);
    expect([...first.history, ...rest.history].map((h) => [h.slot, h.accepted, h.after])).toEqual(
      straight.history.map((h) => [h.slot, h.accepted, h.after]),
    );
  });

  it('a different seed changes the slot order', async () => {
    const a = await runToy(freshState(5, false, 6), new ToyBackend(5, 6, false), { seed: 1 });
    const b = await runToy(freshState(5, false, 6), new ToyBackend(5, 6, false), { seed: 2 });
    expect(a.history.map((h) => h.slot)).not.toEqual(b.history.map((h) => h.slot));
  });
});

describe('personalized search', () => {
  it('alternates task rounds and user epochs, accepts per user, and leaves users without data alone', async () => {
    const backend = new ToyBackend(3, 8, true);
    const { state, history } = await runToy(freshState(3, true, 8), backend);
    expect(state.stopReason).toBe('converged');
    const kinds = history.slice(1).map((h) => h.kind);
    expect(kinds.slice(0, 4)).toEqual(['task', 'user', 'task', 'user']);
    for (let u = 0; u < 7; u++) expect(state.current.userTokens![u]).toBe(backend.rightUser(u));
    expect(state.current.userTokens![7]).toBe(FIRST_WORD);
    expect(state.current.taskTokens).toEqual([0, 1, 2].map((s) => backend.rightTask(s)));
    const firstUser = history.find((h) => h.kind === 'user')!;
    expect(firstUser.usersAccepted).toBeGreaterThan(0);
    expect(firstUser.usersAccepted).toBeLessThanOrEqual(7);
    expect(firstUser.after).toBeGreaterThan(firstUser.before);
    // The composed outcome equals a fresh evaluation of the final assignment.
    const [fresh] = await backend.evaluate([{ taskTokens: Int32Array.from(state.current.taskTokens), userTokens: Int32Array.from(state.current.userTokens!) }]);
    expect(Array.from((fresh as { ranks: Int32Array }).ranks)).toEqual(state.currentOutcome!.values);
  });

  it('resumes mid-run to the same prompts', async () => {
    const straight = await runToy(freshState(3, true, 8), new ToyBackend(3, 8, true));
    const first = await runToy(freshState(3, true, 8), new ToyBackend(3, 8, true), { stopAfter: 3 });
    const rest = await runToy(JSON.parse(JSON.stringify(first.state)) as VariantState, new ToyBackend(3, 8, true));
    expect(rest.state.current).toEqual(straight.state.current);
    expect(rest.state.bestScore).toBe(straight.state.bestScore);
  });
});

/** A history without its wall times, for comparing runs. */
const untimed = (h: HistoryRecord[]) => h.map(({ time: _time, ...rest }) => rest);

describe('wider candidate pools (B > k ranked by the training loss)', () => {
  it('pool = k is the paper\'s search exactly: same history, no loss pass', async () => {
    for (const personalized of [false, true]) {
      const plain = await runToy(freshState(3, personalized, 8), new ToyBackend(3, 8, personalized));
      const backend = new ToyBackend(3, 8, personalized);
      const same = await runToy(freshState(3, personalized, 8), backend, { pool: 5 });
      expect(untimed(same.history)).toEqual(untimed(plain.history));
      expect(same.state).toEqual(plain.state);
      expect(backend.lossPasses).toBe(0);
      expect(same.history.every((h) => h.pool === undefined)).toBe(true);
    }
  });

  it('finds the optimum in fewer epochs than k alone when the gradient\'s first k miss it', async () => {
    // Quantum 6: the gradient's first 5 are right-5..right-1, so k alone first takes right-3 (cost 1) and needs a
    // second accepted round per slot; the pool's 20 hold the right token and the loss ranks it first.
    const right = (b: ToyBackend) => [0, 1, 2, 3].map((s) => b.rightTask(s));
    const alone = new ToyBackend(4, 6, false, 3, { quantum: 6 });
    const k = await runToy(freshState(4, false, 6), alone);
    expect(k.state.current.taskTokens).toEqual(right(alone));
    const wide = new ToyBackend(4, 6, false, 3, { quantum: 6 });
    const pool = await runToy(freshState(4, false, 6), wide, { pool: 20 });
    expect(pool.state.current.taskTokens).toEqual(right(wide));
    expect(pool.state.bestScore).toBe(k.state.bestScore);
    expect(pool.state.bestEpoch).toBeLessThan(k.state.bestEpoch);
    expect(pool.history.filter((h) => h.accepted)).toHaveLength(4); // one accepted round per slot
    expect(k.history.filter((h) => h.accepted).length).toBeGreaterThan(4);

    const rounds = pool.history.filter((h) => h.kind === 'task');
    expect(wide.lossPasses).toBe(rounds.length); // one batched loss pass per round
    expect(wide.evaluations).toBe(1 + 5 * rounds.length); // still k scored per round
    for (const h of rounds) {
      expect(h.pool!.size).toBe(20);
      expect(h.pool!.top.map((c) => c.id)).toEqual(h.candidates.map((c) => c.id)); // the loss-ranked k are the scored k
      const losses = h.pool!.top.map((c) => c.loss);
      expect(losses).toEqual([...losses].sort((a, b) => a - b));
      if (h.accepted) expect(h.acceptedId).toBe(wide.rightTask(h.slot!));
    }
    expect(rounds.some((h) => h.pool!.top[0]!.gradientRank >= 5)).toBe(true); // a token k alone never saw
  });

  it('per-user epochs rank each user\'s pool on that user\'s own rows; users without pool rows keep the gradient order', async () => {
    const users = 8;
    const opts = { quantum: 6, poolUsers: [0, 2, 3, 4, 5, 6] }; // user 1 has no pool rows, user 7 no data at all
    const alone = await runToy(freshState(3, true, users), new ToyBackend(3, users, true, 3, opts));
    const backend = new ToyBackend(3, users, true, 3, opts);
    const pool = await runToy(freshState(3, true, users), backend, { pool: 20 });
    for (const run of [alone, pool]) {
      for (let u = 0; u < users - 1; u++) expect(run.state.current.userTokens![u]).toBe(backend.rightUser(u));
      expect(run.state.current.userTokens![users - 1]).toBe(FIRST_WORD);
    }
    const userEpochs = pool.history.filter((h) => h.kind === 'user');
    const first = userEpochs[0]!;
    expect(first.pool!.size).toBe(20);
    expect(first.pool!.usersRanked).toBe(6);
    expect(first.usersAccepted).toBe(7);
    // The first user epoch (start, task, user) already puts every ranked user on its right token; user 1 (gradient
    // order, its right token 18 ids from the start) needs longer.
    const afterFirst = await runToy(freshState(3, true, users), new ToyBackend(3, users, true, 3, opts), { pool: 20, stopAfter: 3 });
    const tokens = afterFirst.state.current.userTokens!;
    for (const u of opts.poolUsers) expect(tokens[u]).toBe(backend.rightUser(u));
    expect(tokens[1]).not.toBe(backend.rightUser(1));
    expect(pool.state.bestEpoch).toBeLessThan(alone.state.bestEpoch);
  });

  it('a pool resumes to the same prompts as a straight run', async () => {
    const straight = await runToy(freshState(3, true, 8), new ToyBackend(3, 8, true, 3, { quantum: 6 }), { pool: 12 });
    const first = await runToy(freshState(3, true, 8), new ToyBackend(3, 8, true, 3, { quantum: 6 }), { pool: 12, stopAfter: 4 });
    const rest = await runToy(JSON.parse(JSON.stringify(first.state)) as VariantState, new ToyBackend(3, 8, true, 3, { quantum: 6 }), { pool: 12 });
    expect(rest.state.current).toEqual(straight.state.current);
    expect(untimed([...first.history, ...rest.history])).toEqual(untimed(straight.history));
  });

  it('a pool larger than k needs the backend\'s training rows', async () => {
    const b = new ToyBackend(3, 8, false);
    const noPool: SearchBackend = { ...b, evaluate: b.evaluate.bind(b), taskCandidates: b.taskCandidates.bind(b), userCandidates: b.userCandidates.bind(b), pool: undefined };
    await expect(runToy(freshState(3, false, 8), noPool, { pool: 20 })).rejects.toThrow(/needs the backend's training pool/);
  });
});

describe('personalized acceptance on the last training example (--user-accept last-train)', () => {
  /** The toy backend whose users are judged by `onTrain(a, u)`: user u's score on its last training row under `a`. */
  function judgedOnTrain(b: ToyBackend, onTrain: (a: Assignment, u: number) => number): SearchBackend {
    const scores = async (as: readonly Assignment[]) => as.map((a) => Float64Array.from({ length: b.numUsers }, (_, u) => onTrain(a, u)));
    return { ...b, evaluate: b.evaluate.bind(b), taskCandidates: b.taskCandidates.bind(b), userCandidates: b.userCandidates.bind(b), pool: b.pool, userAcceptRows: { scores } };
  }

  it('each user keeps the candidate its training row prefers, not the one its validation rows prefer', async () => {
    const backend = new ToyBackend(3, 8, true);
    // The training row of user u prefers rightUser(u) + 1 (within the gradient's first k); user 6 has no training row.
    const onTrain = (a: Assignment, u: number) => (u === 6 ? NaN : -Math.abs(a.userTokens![u]! - (backend.rightUser(u) + 1)));
    const { state, history } = await runToy(freshState(3, true, 8), judgedOnTrain(backend, onTrain));
    for (let u = 0; u < 6; u++) expect(state.current.userTokens![u]).toBe(backend.rightUser(u) + 1);
    expect(state.current.userTokens![6]).toBe(FIRST_WORD); // no training row: the default
    expect(state.current.userTokens![7]).toBe(FIRST_WORD); // no training data
    expect(history.find((h) => h.kind === 'user')!.usersAccepted).toBeGreaterThan(0);
    // Validation still measures the kept assignment exactly: the composed outcome equals a fresh evaluation.
    const [fresh] = await backend.evaluate([{ taskTokens: Int32Array.from(state.current.taskTokens), userTokens: Int32Array.from(state.current.userTokens!) }]);
    expect(Array.from((fresh as { ranks: Int32Array }).ranks)).toEqual(state.currentOutcome!.values);
  });

  it('judged on a training row that agrees with validation, it finds the same users\' tokens as the paper\'s rule', async () => {
    const plain = await runToy(freshState(3, true, 8), new ToyBackend(3, 8, true));
    const backend = new ToyBackend(3, 8, true);
    const onTrain = (a: Assignment, u: number) => -Math.abs(a.userTokens![u]! - backend.rightUser(u));
    const judged = await runToy(freshState(3, true, 8), judgedOnTrain(backend, onTrain));
    expect(judged.state.current.userTokens!.slice(0, 7)).toEqual(plain.state.current.userTokens!.slice(0, 7));
    expect(judged.state.current.taskTokens).toEqual(plain.state.current.taskTokens);
  });
});
