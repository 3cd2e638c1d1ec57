/**
 * A user-facing failure: bad input, a missing file, a mismatched checkpoint.
 * The message names what and where (file, line, tensor) and what was expected; the CLI prints it without a stack.
 */
export class PaprecError extends Error {
  override readonly name = 'PaprecError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** `where: what` – e.g. `fail('data/beauty/sequential_data.txt:12', 'item id "x" is not an integer')`. */
export function fail(where: string, what: string): never {
  throw new PaprecError(`${where}: ${what}`);
}
