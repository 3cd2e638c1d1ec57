/**
 * P5's whole-word ids (REFERENCE.md §1): a counter that increments at every word-start piece (first word = 1);
 * other pieces reuse the current counter. The row's closing `</s>` and the padding after it get 0. As in P5
 * (which counts over the piece strings and then zeroes only the last position), a `</s>` or `<pad>` met inside
 * the text is an ordinary non-word-start piece and keeps the counter.
 */
export function countWholeWords(ids: ArrayLike<number>, startsWord: Uint8Array, eosId: number, padId: number): number[] {
  const n = ids.length;
  let end = n; // [end, n) is the closing </s> plus trailing padding
  while (end > 0 && ids[end - 1] === padId) end--;
  if (end > 0 && ids[end - 1] === eosId) end--;
  const out = new Array<number>(n).fill(0);
  let word = 0;
  for (let i = 0; i < end; i++) {
    if (startsWord[ids[i]!] === 1) word++;
    out[i] = word;
  }
  return out;
}
