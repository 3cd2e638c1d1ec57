/** Whitespace tokens, as P5's BLEU / ROUGE see a text (no lower-casing, no punctuation splitting). */
export function whitespaceTokens(text: string): string[] {
  const t = text.trim();
  return t === '' ? [] : t.split(/\s+/);
}

/** Counts of every n-gram of `tokens` (keys join tokens with a space, which no token contains). */
export function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
