/**
 * SentencePiece's Unigram segmentation (unigram_model.cc, EncodeOptimized), reproduced exactly:
 * Viterbi over the normalized text, one lattice position per character, a strictly-better rule (the earliest start
 * wins a tie), an unknown node of score min_score - 10 for a character no single-character piece covers, and runs
 * of unknown pieces fused into one (SentencePieceProcessor::Encode).
 * The arithmetic follows SentencePiece's C++ types, because near-ties are common (e.g. `555`+`55` vs `55`+`555`):
 * best path scores are stored as float32; a piece's candidate is computed in double (its score is promoted to
 * double by the user-defined branch's `- 0.1`) and compared, unrounded, with the stored float; the unknown node's
 * candidate is float + float, so float32.
 */

export interface UnigramPiece {
  piece: string;
  score: number;
  /** Matched in text (normal and user-defined pieces). Control / unknown / unused pieces are not. */
  kind: 'normal' | 'user' | 'unused' | 'none';
}

const UNK_PENALTY = 10;

export class UnigramModel {
  private readonly scores: Float32Array;
  private readonly userBonus: Float64Array; // score of a user-defined piece: length_in_bytes * max_score - 0.1
  private readonly isUser: Uint8Array;
  private readonly isUnused: Uint8Array;
  private readonly unkScore: number;
  // Trie over UTF-16 code units, children of a node contiguous and sorted by label.
  private readonly rootChild = new Int32Array(65536).fill(-1);
  private childStart!: Int32Array;
  private childCount!: Int32Array;
  private label!: Uint16Array;
  private value!: Int32Array;
  // Reused Viterbi buffers.
  private best = new Float64Array(256); // holds float32 values
  private from = new Int32Array(256);
  private ids = new Int32Array(256);

  constructor(
    pieces: readonly UnigramPiece[],
    readonly unkId: number,
  ) {
    const n = pieces.length;
    this.scores = new Float32Array(n);
    this.userBonus = new Float64Array(n);
    this.isUser = new Uint8Array(n);
    this.isUnused = new Uint8Array(n);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const p = pieces[i]!;
      this.scores[i] = p.score;
      if (p.kind === 'normal') {
        min = Math.min(min, this.scores[i]!);
        max = Math.max(max, this.scores[i]!);
      }
    }
    if (min === Infinity) min = max = 0;
    // float32 arithmetic, as in SentencePiece (min_score() - kUnkPenalty on floats).
    this.unkScore = Math.fround(Math.fround(min) - UNK_PENALTY);
    const entries: Array<[string, number]> = [];
    for (let i = 0; i < n; i++) {
      const p = pieces[i]!;
      if (p.kind === 'none') continue;
      if (p.kind === 'user') {
        this.isUser[i] = 1;
        this.userBonus[i] = Math.fround(utf8Length(p.piece) * Math.fround(max)) - 0.1;
      }
      if (p.kind === 'unused') this.isUnused[i] = 1;
      entries.push([p.piece, i]);
    }
    this.buildTrie(entries);
  }

  /** Ids of the normalized text `s` (SentencePiece's Encode, unknown runs fused). */
  encode(s: string, out: number[]): void {
    const n = s.length;
    if (n === 0) return;
    if (this.best.length < n + 1) {
      this.best = new Float64Array(2 * n + 2);
      this.from = new Int32Array(2 * n + 2);
      this.ids = new Int32Array(2 * n + 2);
    }
    const best = this.best;
    const from = this.from;
    const ids = this.ids;
    from.fill(-1, 0, n + 1);
    best[0] = 0;
    const { scores, isUser, isUnused, userBonus, childStart, childCount, label, value, rootChild } = this;
    let start = 0;
    while (start < n) {
      const c0 = s.charCodeAt(start);
      const charLen = c0 >= 0xd800 && c0 < 0xdc00 && start + 1 < n && isLow(s.charCodeAt(start + 1)) ? 2 : 1;
      const base = best[start]!;
      let single = false;
      let node = rootChild[c0]!;
      let k = start;
      while (node >= 0) {
        const id = value[node]!;
        k++;
        if (id >= 0 && isUnused[id] === 0) {
          const cand = (isUser[id] ? userBonus[id]! : scores[id]!) + base; // double, as in C++
          if (from[k] === -1 || cand > best[k]!) {
            best[k] = Math.fround(cand); // stored in a float field
            from[k] = start;
            ids[k] = id;
          }
          if (k - start === charLen) single = true;
        }
        if (k >= n) break;
        // Child of `node` labelled s[k]: binary search in its sorted children.
        const c = s.charCodeAt(k);
        let lo = childStart[node]!;
        let hi = lo + childCount[node]! - 1;
        node = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          const l = label[mid]!;
          if (l === c) {
            node = mid;
            break;
          }
          if (l < c) lo = mid + 1;
          else hi = mid - 1;
        }
      }
      if (!single) {
        const end = start + charLen;
        const cand = Math.fround(this.unkScore + base);
        if (from[end] === -1 || cand > best[end]!) {
          best[end] = cand;
          from[end] = start;
          ids[end] = this.unkId;
        }
      }
      start += charLen;
    }
    // Backtrack, then fuse runs of unknowns (they come out as one piece).
    const first = out.length;
    for (let end = n; end > 0; end = from[end]!) out.push(ids[end]!);
    reverseFrom(out, first);
    let w = first;
    for (let r = first; r < out.length; r++) {
      if (out[r] === this.unkId && w > first && out[w - 1] === this.unkId) continue;
      out[w++] = out[r]!;
    }
    out.length = w;
  }

  /** Like `encode`, with each piece's surface text (an unknown run's text is the characters it covers). */
  encodeWithPieces(s: string): { ids: number[]; pieces: string[] } {
    const ids: number[] = [];
    const pieces: string[] = [];
    // Re-run on the same text, then walk it to recover the spans (rare path: tests and diagnostics).
    this.encode(s, ids);
    let pos = 0;
    const spans: number[] = [];
    for (let end = s.length; end > 0; end = this.from[end]!) spans.push(end);
    spans.reverse();
    let si = 0;
    for (let i = 0; i < ids.length; i++) {
      let end = spans[si++]!;
      if (ids[i] === this.unkId) while (si < spans.length && this.ids[spans[si]!] === this.unkId) end = spans[si++]!;
      pieces.push(s.slice(pos, end));
      pos = end;
    }
    return { ids, pieces };
  }

  private buildTrie(entries: Array<[string, number]>): void {
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const childStart: number[] = [0];
    const childCount: number[] = [0];
    const label: number[] = [0];
    const value: number[] = [-1];
    // Breadth-first: a node owns the sorted range [lo, hi) of entries sharing its prefix of length `depth`.
    const queue: Array<[number, number, number, number]> = [[0, 0, entries.length, 0]];
    for (let q = 0; q < queue.length; q++) {
      const [node, lo0, hi, depth] = queue[q]!;
      let lo = lo0;
      if (lo < hi && entries[lo]![0].length === depth) {
        value[node] = entries[lo]![1];
        lo++;
      }
      childStart[node] = label.length;
      let count = 0;
      let i = lo;
      while (i < hi) {
        const c = entries[i]![0].charCodeAt(depth);
        let j = i + 1;
        while (j < hi && entries[j]![0].charCodeAt(depth) === c) j++;
        const child = label.length;
        label.push(c);
        value.push(-1);
        childStart.push(0);
        childCount.push(0);
        queue.push([child, i, j, depth + 1]);
        count++;
        i = j;
      }
      childCount[node] = count;
    }
    this.childStart = Int32Array.from(childStart);
    this.childCount = Int32Array.from(childCount);
    this.label = Uint16Array.from(label);
    this.value = Int32Array.from(value);
    for (let k = 0; k < this.childCount[0]!; k++) {
      const child = this.childStart[0]! + k;
      this.rootChild[this.label[child]!] = child;
    }
  }
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c < 0xe000;
}

function reverseFrom(a: number[], from: number): void {
  for (let i = from, j = a.length - 1; i < j; i++, j--) {
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
