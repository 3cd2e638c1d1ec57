/**
 * A small structural schema for the JSON files paprec reads back (state.json of search and pretrain): a check fails
 * with the field's path, what was expected and what was found, e.g. `variants[0].status: expected one of pending,
 * running, done, got "exploded"`.
 */
import { PaprecError } from '../errors.js';

export type Check = (v: unknown, at: string) => void;

class SchemaError extends Error {}

function found(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function bad(at: string, expected: string, v: unknown): never {
  throw new SchemaError(`${at || 'the file'}: expected ${expected}, got ${v === undefined ? 'nothing (missing)' : found(v)}`);
}

export const num: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(at, 'a finite number', v);
};
export const int: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(at, 'an integer', v);
};
export const count: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(at, 'an integer >= 0', v);
};
export const str: Check = (v, at) => {
  if (typeof v !== 'string') bad(at, 'a string', v);
};
export const bool: Check = (v, at) => {
  if (typeof v !== 'boolean') bad(at, 'true or false', v);
};
export const any: Check = () => {};

export function oneOf(...values: readonly unknown[]): Check {
  return (v, at) => {
    if (!values.includes(v)) bad(at, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
  };
}

export function nullable(c: Check): Check {
  return (v, at) => {
    if (v !== null) c(v, at);
  };
}

export function arrayOf(c: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) bad(at, 'an array', v);
    v.forEach((x, i) => c(x, `${at}[${i}]`));
  };
}

/** An object with these fields; a `?` at the end of a key makes it optional. Other fields are allowed. */
export function object(fields: Record<string, Check>): Check {
  return (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(at, 'an object', v);
    const o = v as Record<string, unknown>;
    for (const [key, c] of Object.entries(fields)) {
      const optional = key.endsWith('?');
      const name = optional ? key.slice(0, -1) : key;
      if (optional && o[name] === undefined) continue;
      c(o[name], at ? `${at}.${name}` : name);
    }
  };
}

/** Check `value` against `schema`; a mismatch is a PaprecError `file: field: expected ..., got ...`. */
export function validate<T>(value: unknown, schema: Check, file: string, hint = ''): T {
  try {
    schema(value, '');
  } catch (err) {
    if (err instanceof SchemaError) throw new PaprecError(`${file}: ${err.message}${hint}`);
    throw err;
  }
  return value as T;
}
