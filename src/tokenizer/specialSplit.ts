/**
 * How the slow HF T5Tokenizer (transformers 4.2.1, the one P5 used) cuts text around special tokens before
 * SentencePiece sees it: for each no-split token in sorted order, split every remaining chunk on it; whitespace
 * (Python's str.isspace set) is stripped on both sides of a special token; empty chunks vanish. Each remaining
 * chunk is then encoded by SentencePiece on its own, so each gets its own `▁` dummy prefix.
 */
export type Chunk = { special: false; text: string } | { special: true; id: number };

export class SpecialSplitter {
  private readonly tokens: Array<{ content: string; id: number }>;
  private readonly firstChars: string[];

  constructor(specials: ReadonlyArray<{ content: string; id: number }>) {
    // Python sorts code points; JS compares UTF-16 units: equal for the BMP, which special tokens live in.
    this.tokens = [...specials].filter((t) => t.content.length > 0).sort((a, b) => cmp(a.content, b.content));
    this.firstChars = [...new Set(this.tokens.map((t) => t.content[0]!))];
  }

  /** True when `text` cannot contain a special token (the common case: skip the splitting). */
  plain(text: string): boolean {
    for (const c of this.firstChars) if (text.includes(c)) return false;
    return true;
  }

  split(text: string): Chunk[] {
    if (pyStrip(text).length === 0) return [];
    let chunks: Chunk[] = [{ special: false, text }];
    for (const tok of this.tokens) {
      const next: Chunk[] = [];
      for (const chunk of chunks) {
        if (chunk.special) next.push(chunk);
        else splitOn(chunk.text, tok, next);
      }
      chunks = next;
    }
    return chunks;
  }
}

/** transformers 4.2.1 `split_on_token` for a plain-string special token. */
function splitOn(text: string, tok: { content: string; id: number }, out: Chunk[]): void {
  const parts = text.split(tok.content);
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    let sub = parts[i]!;
    if (i < last) sub = pyRstrip(sub);
    if (i > 0) sub = pyLstrip(sub);
    if (i === 0 && sub.length === 0) {
      // Python appends the token here even when the text held none of it; a chunk is never empty, so it can't.
      if (last > 0) out.push({ special: true, id: tok.id });
    } else if (i === last) {
      if (sub.length > 0) out.push({ special: false, text: sub });
    } else {
      if (sub.length > 0) out.push({ special: false, text: sub });
      out.push({ special: true, id: tok.id });
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Python's str.isspace() set (differs from JS's trim: adds \x1c-\x1f and \x85, drops \ufeff). */
export function isPySpace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

export function pyLstrip(s: string): string {
  let i = 0;
  while (i < s.length && isPySpace(s.charCodeAt(i))) i++;
  return i === 0 ? s : s.slice(i);
}

export function pyRstrip(s: string): string {
  let j = s.length;
  while (j > 0 && isPySpace(s.charCodeAt(j - 1))) j--;
  return j === s.length ? s : s.slice(0, j);
}

export function pyStrip(s: string): string {
  return pyLstrip(pyRstrip(s));
}
