/**
 * One PAP-REC search (paper §4): rounds of trigger-token replacement until every slot fails or the epoch budget is
 * spent. Non-personalized: every epoch is a task-token round. Personalized: task-token rounds alternate with
 * user-token epochs (§4.3). The state is a plain object (VariantState) committed after every round.
 */
import type { Scorer, SearchBackend, Assignment, RowOutcomes } from './types.js';
import type { SearchOptions } from './options.js';
import type { VariantState } from './state.js';
import type { CandidateRecord, HistoryRecord } from './history.js';
import { composeOutcomes, outcomeFromJson, outcomeToJson, rowsByUser } from './outcomes.js';
import { gradientSampleSeed, pickSlot } from './schedule.js';

export interface ProgressEvent {
  search: string;
  phase: 'start' | 'task' | 'user';
  epoch: number;
  maxEpochs: number;
  slot?: number;
  /** Candidates being scored in this round (k). */
  candidates?: number;
  current: number | null;
  best: number | null;
  /** What happened: 'gradients', 'scoring', 'accepted', 'rejected', 'done'. */
  step: string;
}

export interface SearchContext {
  backend: SearchBackend;
  scorer: Scorer;
  opts: Pick<SearchOptions, 'k' | 'epochs' | 'seed'>;
  state: VariantState;
  /** Piece text of a token id (history readability). */
  tokenText: (id: number) => string;
  /** Persist one round: append its history line, then save the state (the caller owns the files). */
  commit: (record: HistoryRecord) => Promise<void>;
  /** True once the user asked to stop (Ctrl-C): checked between rounds. */
  shouldStop?: () => boolean;
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

  constructor(private readonly ctx: SearchContext) {
    const s = ctx.state;
    this.outcome = s.currentOutcome ? outcomeFromJson(s.currentOutcome as { kind: string; values: unknown[] }, 'state.json') : null;
    this.userRows = ctx.backend.personalized ? rowsByUser(ctx.backend.valUserIndex, ctx.backend.numUsers) : [];
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
      if (this.ctx.shouldStop?.()) return 'interrupted';
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
      const candidates = await this.ctx.backend.taskCandidates(assignmentOf(s.current), this.ctx.opts.k, seed);
      this.taskCache = { version: s.version, candidates };
    }
    return this.taskCache.candidates;
  }

  /** Eq. 6 + Eq. 7: one slot, k candidates from the gradient, all scored in one pass, the best kept if strictly better. */
  private async taskRound(): Promise<void> {
    const s = this.s;
    const started = performance.now();
    const k = this.ctx.opts.k;
    const slot = pickSlot(this.ctx.opts.seed, s.spec.name, s.round, s.spec.length, s.tried)!;
    const all = await this.taskCandidates();
    const ids = Array.from(all.subarray(slot * k, slot * k + k));
    this.emit({ phase: 'task', step: 'scoring', slot, candidates: ids.length });
    const assignments = ids.map((id) => {
      const a = assignmentOf(s.current);
      a.taskTokens[slot] = id;
      return a;
    });
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
    await this.ctx.commit(this.record('task', before, { slot, candidates, accepted, ...(accepted ? { acceptedId: ids[b]! } : {}) }, started));
  }

  /**
   * §4.3, Eq. 8-11: per-user candidates from each user's training gradient; for each candidate rank c one pass with
   * every user's [T_u] set to its c-th candidate (all k passes in one batched call); each user keeps the best of its
   * candidates if strictly better on that user's validation rows.
   */
  private async userEpoch(): Promise<void> {
    const s = this.s;
    const started = performance.now();
    const k = this.ctx.opts.k;
    const n = this.ctx.backend.numUsers;
    this.emit({ phase: 'user', step: 'gradients' });
    const { candidates, hasData } = await this.ctx.backend.userCandidates(assignmentOf(s.current), k);
    const cur = Int32Array.from(s.current.userTokens!);
    const assignments: Assignment[] = [];
    for (let c = 0; c < k; c++) {
      const userTokens = cur.slice();
      for (let u = 0; u < n; u++) if (hasData[u]) userTokens[u] = candidates[u * k + c]!;
      assignments.push({ taskTokens: Int32Array.from(s.current.taskTokens), userTokens });
    }
    this.emit({ phase: 'user', step: 'scoring', candidates: k });
    const outcomes = await this.ctx.backend.evaluate(assignments);

    const before = s.currentScore!;
    const scorer = this.ctx.scorer;
    const next = cur.slice();
    const takeFrom: number[][] = Array.from({ length: k }, () => []); // rows that take candidate rank c's outcome
    let changed = 0;
    for (let u = 0; u < n; u++) {
      const rows = this.userRows[u]!;
      if (!hasData[u] || rows.length === 0) continue;
      let bestScore = scorer.score(this.outcome!, rows);
      let bestC = -1;
      for (let c = 0; c < k; c++) {
        const v = scorer.score(outcomes[c]!, rows);
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
    await this.ctx.commit(this.record('user', before, { candidates: cands, accepted: changed > 0, usersAccepted: changed }, started));
  }
}
