/**
 * One PAP-REC search (paper §4): rounds of trigger-token replacement until every slot fails or the epoch budget is
 * spent. Non-personalized: every epoch is a task-token round. Personalized: task-token rounds alternate with
 * user-token epochs (§4.3). The state is a plain object (VariantState) committed after every round.
 */
import type { Scorer, SearchBackend, Assignment, RowOutcomes } from './types.js';
import type { SearchOptions } from './options.js';
import type { VariantState } from './state.js';
import type { CandidateRecord, HistoryRecord, PoolRecord } from './history.js';
import { composeOutcomes, outcomeFromJson, outcomeToJson, rowsByUser } from './outcomes.js';
import { lossOrder, meanLoss } from './pool.js';
import { gradientSampleSeed, pickSlot } from './schedule.js';
import type { TrainingPool } from './types.js';

export interface ProgressEvent {
  search: string;
  phase: 'start' | 'task' | 'user';
  epoch: number;
  maxEpochs: number;
  slot?: number;
  /** Candidates being scored in this round (k), or being ranked by the training loss (B, step 'pool'). */
  candidates?: number;
  current: number | null;
  best: number | null;
  /** What happened: 'gradients', 'pool' (ranking B > k candidates by the training loss), 'scoring', 'accepted', 'rejected', 'done'. */
  step: string;
}

export interface SearchContext {
  backend: SearchBackend;
  scorer: Scorer;
  /** `pool` absent or equal to k: the paper's procedure. */
  opts: Pick<SearchOptions, 'k' | 'epochs' | 'seed' | 'pool'>;
  state: VariantState;
  /** Piece text of a token id (history readability). */
  tokenText: (id: number) => string;
  /** Persist one round: append its history line, then save the state (the caller owns the files). */
  commit: (record: HistoryRecord) => Promise<void>;
  /** True once the user asked to stop (Ctrl-C): checked between rounds (distributed: agreed by every rank). */
  shouldStop?: () => boolean | Promise<boolean>;
  onProgress?: (e: ProgressEvent) => void;
}

function assignmentOf(t: { taskTokens: ArrayLike<number>; userTokens?: ArrayLike<number> }): Assignment {
  return { taskTokens: Int32Array.from(t.taskTokens), ...(t.userTokens ? { userTokens: Int32Array.from(t.userTokens) } : {}) };
}

/** Index of the best score; the earlier (higher-ranked by the gradient) candidate wins ties. */
function argmax(xs: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[b]!) b = i;
  return b;
}

export class PapRecSearch {
  private outcome: RowOutcomes | null;
  /** Candidate sets for the prompt version they were computed at: gradients only change with the prompt. */
  private taskCache: { version: number; candidates: Int32Array } | null = null;
  private readonly userRows: Int32Array[];
  /** B: gradient candidates per slot (or user) per round; k of them are scored. */
  private readonly poolSize: number;
  /** The pool's training rows of each user (per-user ranking), when B > k. */
  private readonly poolUserRows: Int32Array[] = [];

  constructor(private readonly ctx: SearchContext) {
    const s = ctx.state;
    this.outcome = s.currentOutcome ? outcomeFromJson(s.currentOutcome as { kind: string; values: unknown[] }, 'state.json') : null;
    this.userRows = ctx.backend.personalized ? rowsByUser(ctx.backend.valUserIndex, ctx.backend.numUsers) : [];
    this.poolSize = ctx.opts.pool ?? ctx.opts.k;
    if (this.poolSize < ctx.opts.k) throw new Error(`search: pool B = ${this.poolSize} is smaller than k = ${ctx.opts.k}`);
    if (this.poolSize > ctx.opts.k) {
      if (!ctx.backend.pool) throw new Error(`search: pool B = ${this.poolSize} > k needs the backend's training pool`);
      if (ctx.backend.personalized) this.poolUserRows = rowsByUser(ctx.backend.pool.userIndex, ctx.backend.numUsers);
    }
  }

  private get trainingPool(): TrainingPool {
    return this.ctx.backend.pool!;
  }

  private get s(): VariantState {
    return this.ctx.state;
  }

  private emit(e: Omit<ProgressEvent, 'search' | 'epoch' | 'maxEpochs' | 'current' | 'best'>): void {
    this.ctx.onProgress?.({
      search: this.s.spec.name,
      epoch: this.s.epoch,
      maxEpochs: this.ctx.opts.epochs,
      current: this.s.currentScore,
      best: this.s.bestScore,
      ...e,
    });
  }

  private record(kind: HistoryRecord['kind'], before: number, extra: Partial<HistoryRecord>, started: number): HistoryRecord {
    return {
      search: this.s.spec.name,
      epoch: this.s.epoch,
      kind,
      length: this.s.spec.length,
      placement: this.s.spec.placement,
      candidates: [],
      before,
      after: this.s.currentScore!,
      accepted: false,
      best: this.s.bestScore!,
      time: (performance.now() - started) / 1000,
      ...extra,
    };
  }

  private noteBest(): void {
    const s = this.s;
    if (s.bestScore === null || s.currentScore! > s.bestScore) {
      s.bestScore = s.currentScore;
      s.best = structuredClone(s.current);
      s.bestEpoch = s.epoch;
    }
    s.curve.push({ epoch: s.epoch, score: s.currentScore!, best: s.bestScore! });
  }

  /** Run until converged, out of epochs, or asked to stop. Returns whether the search finished. */
  async run(): Promise<'done' | 'interrupted'> {
    const s = this.s;
    if (s.status === 'done') return 'done';
    s.status = 'running';
    if (this.outcome === null) await this.start();
    while (s.epoch < this.ctx.opts.epochs) {
      if (await this.ctx.shouldStop?.()) return 'interrupted';
      const slotsExhausted = s.tried.length >= s.spec.length;
      if (!s.spec.personalized) {
        if (slotsExhausted) return this.finish('converged');
        await this.taskRound();
        continue;
      }
      // Personalized: stop once every task slot failed and the latest user epoch changed nothing either.
      if (slotsExhausted && s.userEpochChanged === false) return this.finish('converged');
      if (s.nextPhase === 'task' && !slotsExhausted) await this.taskRound();
      else await this.userEpoch();
    }
    return this.finish('max-epochs');
  }

  private async finish(reason: 'converged' | 'max-epochs'): Promise<'done'> {
    this.s.status = 'done';
    this.s.stopReason = reason;
    this.emit({ phase: this.s.nextPhase, step: 'done' });
    return 'done';
  }

  /** Score the initial prompt: the reference every first candidate must beat. */
  private async start(): Promise<void> {
    const started = performance.now();
    this.emit({ phase: 'start', step: 'scoring', candidates: 1 });
    const [o] = await this.ctx.backend.evaluate([assignmentOf(this.s.current)]);
    this.setCurrent(o!);
    this.s.startScore = this.s.currentScore;
    this.noteBest();
    await this.ctx.commit(this.record('start', this.s.currentScore!, {}, started));
  }

  private setCurrent(o: RowOutcomes): void {
    this.outcome = o;
    this.s.currentOutcome = outcomeToJson(o);
    this.s.currentScore = this.ctx.scorer.score(o);
  }

  private async taskCandidates(): Promise<Int32Array> {
    const s = this.s;
    if (this.taskCache?.version !== s.version) {
      this.emit({ phase: 'task', step: 'gradients' });
      const seed = gradientSampleSeed(this.ctx.opts.seed, s.spec.name, s.version);
      const candidates = await this.ctx.backend.taskCandidates(assignmentOf(s.current), this.poolSize, seed);
      this.taskCache = { version: s.version, candidates };
    }
    return this.taskCache.candidates;
  }

  /** The current prompt with task slot `slot` set to `id`. */
  private withTaskToken(slot: number, id: number): Assignment {
    const a = assignmentOf(this.s.current);
    a.taskTokens[slot] = id;
    return a;
  }

  /**
   * The pool's best k for one slot: its B gradient candidates ranked by the mean training loss over the pool rows
   * (one batched pass), lowest first. With B = k, the gradient's k as they are (the paper).
   */
  private async rankTaskPool(slot: number, gradientIds: number[]): Promise<{ ids: number[]; pool?: PoolRecord }> {
    const k = this.ctx.opts.k;
    if (gradientIds.length <= k) return { ids: gradientIds };
    this.emit({ phase: 'task', step: 'pool', slot, candidates: gradientIds.length });
    const losses = (await this.trainingPool.loss(gradientIds.map((id) => this.withTaskToken(slot, id)))).map((l) => meanLoss(l));
    const best = lossOrder(losses).slice(0, k);
    const top = best.map((c) => ({ id: gradientIds[c]!, text: this.ctx.tokenText(gradientIds[c]!), loss: losses[c]!, gradientRank: c }));
    return { ids: best.map((c) => gradientIds[c]!), pool: { size: gradientIds.length, top } };
  }

  /**
   * Eq. 6 + Eq. 7: one slot, k candidates from the gradient (or the best k of a pool of B by the training loss), all
   * scored in one pass, the best kept if strictly better.
   */
  private async taskRound(): Promise<void> {
    const s = this.s;
    const started = performance.now();
    const B = this.poolSize;
    const slot = pickSlot(this.ctx.opts.seed, s.spec.name, s.round, s.spec.length, s.tried)!;
    const all = await this.taskCandidates();
    const { ids, pool } = await this.rankTaskPool(slot, Array.from(all.subarray(slot * B, slot * B + B)));
    this.emit({ phase: 'task', step: 'scoring', slot, candidates: ids.length });
    const assignments = ids.map((id) => this.withTaskToken(slot, id));
    const outcomes = await this.ctx.backend.evaluate(assignments);
    const scores = outcomes.map((o) => this.ctx.scorer.score(o));
    const before = s.currentScore!;
    const b = argmax(scores);
    const accepted = scores[b]! > before;
    if (accepted) {
      s.current.taskTokens[slot] = ids[b]!;
      this.setCurrent(outcomes[b]!);
      s.version++;
      s.tried = [];
    } else {
      s.tried.push(slot);
    }
    s.round++;
    s.epoch++;
    if (s.spec.personalized) s.nextPhase = 'user';
    this.noteBest();
    this.emit({ phase: 'task', step: accepted ? 'accepted' : 'rejected', slot });
    const candidates: CandidateRecord[] = ids.map((id, i) => ({ id, text: this.ctx.tokenText(id), score: scores[i]! }));
    await this.ctx.commit(this.record('task', before, { slot, candidates, accepted, ...(accepted ? { acceptedId: ids[b]! } : {}), ...(pool ? { pool } : {}) }, started));
  }

  /**
   * §4.3, Eq. 8-11: per-user candidates from each user's training gradient; for each candidate rank c one pass with
   * every user's [T_u] set to its c-th candidate (all k passes in one batched call); each user keeps the best of its
   * candidates if strictly better on that user's validation rows (with --user-accept last-train: on that user's last
   * training example instead). With a pool, each user's k are the best of its B
   * by the loss on its own training rows (rankUserPool).
   */
  private async userEpoch(): Promise<void> {
    const s = this.s;
    const started = performance.now();
    const k = this.ctx.opts.k;
    const n = this.ctx.backend.numUsers;
    this.emit({ phase: 'user', step: 'gradients' });
    const gradient = await this.ctx.backend.userCandidates(assignmentOf(s.current), this.poolSize);
    const hasData = gradient.hasData;
    const { candidates, pool } = await this.rankUserPool(gradient.candidates, hasData);
    const cur = Int32Array.from(s.current.userTokens!);
    const assignments = this.userRankAssignments(candidates, hasData, k);
    this.emit({ phase: 'user', step: 'scoring', candidates: k });
    const outcomes = await this.ctx.backend.evaluate(assignments);
    // --user-accept last-train: each user's score on its last training example decides (current prompt at index 0,
    // candidate rank c at c + 1); validation then stays a held-out measure of the user tokens.
    const onTrain = this.ctx.backend.userAcceptRows ? await this.ctx.backend.userAcceptRows.scores([assignmentOf(s.current), ...assignments]) : undefined;

    const before = s.currentScore!;
    const scorer = this.ctx.scorer;
    const next = cur.slice();
    const takeFrom: number[][] = Array.from({ length: k }, () => []); // rows that take candidate rank c's outcome
    let changed = 0;
    for (let u = 0; u < n; u++) {
      const rows = this.userRows[u]!;
      if (!hasData[u]) continue;
      // Eq. 11 on the user's validation rows, or the same rule on its last training example.
      const score = onTrain ? (c: number) => onTrain[c + 1]![u]! : (c: number) => (c < 0 ? scorer.score(this.outcome!, rows) : scorer.score(outcomes[c]!, rows));
      if (onTrain ? Number.isNaN(onTrain[0]![u]!) : rows.length === 0) continue;
      let bestScore = score(-1);
      let bestC = -1;
      for (let c = 0; c < k; c++) {
        const v = score(c);
        if (v > bestScore) {
          bestScore = v;
          bestC = c;
        }
      }
      if (bestC >= 0 && candidates[u * k + bestC] !== cur[u]) {
        next[u] = candidates[u * k + bestC]!;
        for (const r of rows) takeFrom[bestC]!.push(r);
        changed++;
      }
    }
    let composed = this.outcome!;
    for (let c = 0; c < k; c++) if (takeFrom[c]!.length > 0) composed = composeOutcomes(composed, outcomes[c]!, takeFrom[c]!);
    if (changed > 0) {
      s.current.userTokens = Array.from(next);
      this.setCurrent(composed);
      s.version++;
      s.tried = []; // the landscape moved: failed task slots may succeed now
    }
    s.userEpochChanged = changed > 0;
    s.epoch++;
    s.nextPhase = 'task';
    this.noteBest();
    this.emit({ phase: 'user', step: changed > 0 ? 'accepted' : 'rejected' });
    const cands: CandidateRecord[] = outcomes.map((o, c) => ({ id: -1, text: `rank ${c + 1}`, score: scorer.score(o) }));
    await this.ctx.commit(this.record('user', before, { candidates: cands, accepted: changed > 0, usersAccepted: changed, ...(pool ? { pool } : {}) }, started));
  }

  /** One assignment per candidate rank c: every user with data set to its c-th candidate of `perUser` ([users, width]). */
  private userRankAssignments(perUser: Int32Array, hasData: Uint8Array, width: number): Assignment[] {
    const s = this.s;
    const out: Assignment[] = [];
    for (let c = 0; c < width; c++) {
      const userTokens = Int32Array.from(s.current.userTokens!);
      for (let u = 0; u < this.ctx.backend.numUsers; u++) if (hasData[u]) userTokens[u] = perUser[u * width + c]!;
      out.push({ taskTokens: Int32Array.from(s.current.taskTokens), userTokens });
    }
    return out;
  }

  /**
   * Each user's best k of its B gradient candidates ([users, B]) by the loss on that user's own pool rows: one pass
   * per candidate rank c with every user at its c-th candidate (all B in one batched call), composed per user. Users
   * without pool rows keep the gradient's first k. With B = k, the gradient's candidates as they are (the paper).
   */
  private async rankUserPool(gradient: Int32Array, hasData: Uint8Array): Promise<{ candidates: Int32Array; pool?: PoolRecord }> {
    const k = this.ctx.opts.k;
    const B = this.poolSize;
    if (B <= k) return { candidates: gradient };
    this.emit({ phase: 'user', step: 'pool', candidates: B });
    const losses = await this.trainingPool.loss(this.userRankAssignments(gradient, hasData, B));
    const n = this.ctx.backend.numUsers;
    const gradientFirst = Array.from({ length: k }, (_, c) => c);
    const choices = Array.from({ length: n }, (_, u) => (hasData[u] ? this.userPoolChoice(losses, u) : undefined));
    const candidates = new Int32Array(n * k);
    choices.forEach((choice, u) => (choice?.ranks ?? gradientFirst).forEach((c, r) => (candidates[u * k + r] = gradient[u * B + c]!)));
    const ranked = choices.filter((c) => c !== undefined);
    const mean = (f: (r: number) => number) => ranked.reduce((sum, _, i) => sum + f(i), 0) / Math.max(1, ranked.length);
    const top = gradientFirst.map((r) => ({
      id: -1,
      text: `rank ${r + 1}`,
      loss: mean((i) => ranked[i]!.losses[r]!),
      gradientRank: mean((i) => ranked[i]!.ranks[r]!),
    }));
    return { candidates, pool: { size: B, top, usersRanked: ranked.length } };
  }

  /** User u's best k candidate ranks by the mean loss over its own pool rows, with those losses; none without rows. */
  private userPoolChoice(losses: Float32Array[], u: number): { ranks: number[]; losses: number[] } | undefined {
    const rows = this.poolUserRows[u]!;
    if (rows.length === 0) return undefined;
    const userLosses = losses.map((l) => meanLoss(l, rows));
    const ranks = lossOrder(userLosses).slice(0, this.ctx.opts.k);
    return { ranks, losses: ranks.map((c) => userLosses[c]!) };
  }
}
