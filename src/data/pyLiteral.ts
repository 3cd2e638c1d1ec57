import { PaprecError } from '../errors.js';

/**
 * A parser for Python literals (the `repr` text Amazon's `meta.json.gz` lines are written in).
 *
 * It builds values, never evaluates anything: strings (' or ", optional u/r/b prefixes, escapes), ints, floats,
 * True/False/None, lists, tuples (-> arrays), sets (-> arrays) and dicts. Dicts whose keys are all strings become
 * plain objects without a prototype; other dicts become Maps. Adjacent string literals are concatenated as Python
 * does. Anything else (names, calls, operators) is an error with its column.
 */
export type PyValue =
  | null
  | boolean
  | number
  | string
  | PyValue[]
  | { [key: string]: PyValue }
  | Map<PyValue, PyValue>;

/** Parse one literal. `where` (e.g. `meta.json.gz:12`) prefixes error messages; columns are 1-based. */
export function parsePythonLiteral(text: string, where = '<literal>'): PyValue {
  const p = new Parser(text, where);
  p.skipSpace();
  const value = p.value();
  p.skipSpace();
  if (p.pos < text.length) p.error(`unexpected ${JSON.stringify(text[p.pos])} after the literal`);
  return value;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class Parser {
  pos = 0;
  private depth = 0;

  constructor(
    private readonly s: string,
    private readonly where: string,
  ) {}

  error(what: string, at = this.pos): never {
    throw new PaprecError(`${this.where}: column ${at + 1}: ${what}`);
  }

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '\\' && (s[this.pos + 1] === '\n' || s[this.pos + 1] === '\r')) this.pos += 2;
      else break;
    }
  }

  value(): PyValue {
    const s = this.s;
    if (this.pos >= s.length) this.error('unexpected end of text, expected a value');
    const c = s[this.pos] as string;
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === '{') return this.dictOrSet();
    if (c === "'" || c === '"') return this.strings();
    if ((c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9'))) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.pos, this.pos + 64))?.[0];
    if (word !== undefined) {
      const next = s[this.pos + word.length];
      if (/^[uUrRbB]{1,2}$/.test(word) && (next === "'" || next === '"')) return this.strings();
      if (word === 'True' || word === 'False' || word === 'None') {
        this.pos += word.length;
        return word === 'True' ? true : word === 'False' ? false : null;
      }
      this.error(`name ${JSON.stringify(word)} is not a literal (only strings, numbers, True/False/None, lists, tuples, dicts)`);
    }
    this.error(`unexpected ${JSON.stringify(c)}, expected a value`);
  }

  private enter(): void {
    if (++this.depth > 1000) this.error('literal nested more than 1000 deep');
  }

  /** Lists and tuples: `[a, b,]`, `(a,)`, `()`. A parenthesized single value `(a)` is that value. */
  private sequence(close: ']' | ')'): PyValue {
    this.enter();
    const start = this.pos;
    this.pos++;
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === close) {
        this.pos++;
        break;
      }
      if (this.pos >= this.s.length) this.error(`unclosed ${this.s[start]} opened at column ${start + 1}`);
      items.push(this.value());
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        sawComma = true;
        this.pos++;
      } else if (c !== close) {
        this.error(this.pos >= this.s.length ? `unclosed ${this.s[start]} opened at column ${start + 1}` : `expected "," or "${close}"`);
      }
    }
    this.depth--;
    if (close === ')' && items.length === 1 && !sawComma) return items[0] as PyValue;
    return items;
  }

  private dictOrSet(): PyValue {
    this.enter();
    const start = this.pos;
    this.pos++;
    const keys: PyValue[] = [];
    const values: PyValue[] = [];
    let isSet: boolean | undefined;
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === '}') {
        this.pos++;
        break;
      }
      if (this.pos >= this.s.length) this.error(`unclosed { opened at column ${start + 1}`);
      const keyAt = this.pos;
      const key = this.value();
      this.skipSpace();
      if (this.s[this.pos] === ':') {
        if (isSet === true) this.error('":" inside a set');
        isSet = false;
        this.pos++;
        this.skipSpace();
        // Tuples are hashable keys (they parse to arrays too); lists, dicts and sets are not.
        if (this.s[keyAt] === '[' || this.s[keyAt] === '{') this.error('unhashable dict key (list, dict or set)', keyAt);
        keys.push(key);
        values.push(this.value());
        this.skipSpace();
      } else {
        if (isSet === false) this.error('expected ":" after a dict key');
        isSet = true;
        keys.push(key);
      }
      const c = this.s[this.pos];
      if (c === ',') this.pos++;
      else if (c !== '}') this.error(this.pos >= this.s.length ? `unclosed { opened at column ${start + 1}` : 'expected "," or "}"');
    }
    this.depth--;
    if (isSet === true) return keys;
    if (keys.every((k) => typeof k === 'string')) {
      const obj: { [key: string]: PyValue } = Object.create(null) as { [key: string]: PyValue };
      keys.forEach((k, i) => (obj[k as string] = values[i] as PyValue));
      return obj;
    }
    const map = new Map<PyValue, PyValue>();
    keys.forEach((k, i) => map.set(k, values[i] as PyValue));
    return map;
  }

  /** One or more adjacent string literals, concatenated. */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const c = this.s[this.pos];
      const prefixed = /^[uUrRbB]{1,2}['"]/.test(this.s.slice(this.pos, this.pos + 3));
      if (c === "'" || c === '"' || prefixed) out += this.string();
      else {
        this.pos = save;
        return out;
      }
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.pos;
    let raw = false;
    while (/[uUrRbB]/.test(s[this.pos] ?? '')) {
      if (s[this.pos] === 'r' || s[this.pos] === 'R') raw = true;
      this.pos++;
    }
    const quote = s[this.pos] as string;
    const triple = s.startsWith(quote.repeat(3), this.pos);
    const close = triple ? quote.repeat(3) : quote;
    this.pos += close.length;
    let out = '';
    for (;;) {
      if (this.pos >= s.length) this.error(`unterminated string starting at column ${start + 1}`, start);
      const c = s[this.pos] as string;
      if (s.startsWith(close, this.pos)) {
        this.pos += close.length;
        return out;
      }
      if ((c === '\n' || c === '\r') && !triple) this.error(`unterminated string starting at column ${start + 1}`, start);
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const e = s[this.pos + 1];
      if (e === undefined) this.error(`unterminated string starting at column ${start + 1}`, start);
      if (raw) {
        // Raw strings keep the backslash; it still protects the quote that follows it.
        out += c + e;
        this.pos += 2;
        continue;
      }
      out += this.escape();
    }
  }

  private escape(): string {
    const s = this.s;
    const at = this.pos;
    const e = s[this.pos + 1] as string;
    this.pos += 2;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) return simple;
    if (e === '\n') return '';
    if (e === '\r') {
      if (s[this.pos] === '\n') this.pos++;
      return '';
    }
    if (e >= '0' && e <= '7') {
      let digits = e;
      while (digits.length < 3 && /[0-7]/.test(s[this.pos] ?? '')) digits += s[this.pos++];
      return String.fromCodePoint(parseInt(digits, 8));
    }
    const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const hex = s.slice(this.pos, this.pos + hexLength);
      if (hex.length !== hexLength || !/^[0-9a-fA-F]+$/.test(hex)) this.error(`bad \\${e} escape: expected ${hexLength} hex digits`, at);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) this.error(`\\${e}${hex} is beyond Unicode`, at);
      this.pos += hexLength;
      return String.fromCodePoint(code);
    }
    if (e === 'N') this.error('\\N{...} named escapes are not supported', at);
    // Python keeps unknown escapes verbatim (with a warning); so do we.
    return '\\' + e;
  }

  private number(): number {
    const m = /^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?)/.exec(
      this.s.slice(this.pos, this.pos + 400),
    );
    const text = m?.[0];
    if (!text || !/\d/.test(text)) this.error('malformed number');
    const next = this.s[this.pos + text.length];
    if (next !== undefined && /[A-Za-z0-9_.]/.test(next)) this.error(`malformed number ${JSON.stringify(text + next)}`);
    this.pos += text.length;
    const clean = text.replace(/_/g, '');
    const sign = clean.startsWith('-') ? -1 : 1;
    const body = clean.replace(/^[-+]/, '');
    if (/^0[xX]/.test(body)) return sign * parseInt(body.slice(2), 16);
    if (/^0[oO]/.test(body)) return sign * parseInt(body.slice(2), 8);
    if (/^0[bB]/.test(body)) return sign * parseInt(body.slice(2), 2);
    return sign * Number(body);
  }
}
