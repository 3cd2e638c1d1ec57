import { PaprecError } from '../errors.js';
import { gunzipOrFail } from './gzip.js';
import { numberedLines } from './lines.js';
import { parsePythonLiteral } from './pyLiteral.js';

export interface MetaLoad {
  /** item id -> title */
  titles: Map<number, string>;
  /** lines whose asin is not one of the dataset's items (Amazon meta files cover the whole category) */
  otherItems: number;
  /** lines of known items without a title */
  untitled: number;
}

/**
 * Read Amazon's `meta.json.gz`: one Python-literal dict per line (`{'asin': ..., 'title': ..., ...}`), parsed,
 * never evaluated. Lines in strict JSON (the 2018 dumps) parse the same way, since JSON's literals are Python's
 * apart from true/false/null, which are accepted too.
 */
export function parseMeta(gz: Uint8Array, file: string, item2id: ReadonlyMap<string, number>): MetaLoad {
  const text = gunzipOrFail(gz, file).toString('utf8');
  const titles = new Map<number, string>();
  let otherItems = 0;
  let untitled = 0;
  for (const [line, lineNo] of numberedLines(text)) {
    if (line.trim() === '') continue;
    const where = `${file}:${lineNo}`;
    let record: unknown;
    if (line.trimStart().startsWith('{"')) {
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
    }
    record ??= parsePythonLiteral(jsonWordsToPython(line), where);
    if (typeof record !== 'object' || record === null || Array.isArray(record) || record instanceof Map) {
      throw new PaprecError(`${where}: expected a dict with an 'asin' key`);
    }
    const rec = record as Record<string, unknown>;
    if (typeof rec.asin !== 'string') throw new PaprecError(`${where}: 'asin' must be a string`);
    const item = item2id.get(rec.asin);
    if (item === undefined) {
      otherItems++;
      continue;
    }
    if (typeof rec.title === 'string' && rec.title.trim() !== '') titles.set(item, rec.title.trim());
    else untitled++;
  }
  return { titles, otherItems, untitled };
}

/** Accept JSON's true/false/null outside strings by spelling them the Python way. */
function jsonWordsToPython(line: string): string {
  if (!/\b(true|false|null)\b/.test(line)) return line;
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      out += c;
      if (c === '\\') out += line[++i] ?? '';
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      out += c;
      continue;
    }
    const m = /^(true|false|null)\b/.exec(line.slice(i, i + 6));
    if (m && !/[A-Za-z0-9_]/.test(line[i - 1] ?? '')) {
      out += m[1] === 'true' ? 'True' : m[1] === 'false' ? 'False' : 'None';
      i += m[1]!.length - 1;
      continue;
    }
    out += c;
  }
  return out;
}
