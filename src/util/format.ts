/** A score for tables and progress lines: `digits` decimals, or `–` when there is no finite number. */
export function formatScore(x: number | null | undefined, digits = 4): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}
