/**
 * Lines of a text file with their 1-based line numbers, tolerant of CRLF (Windows copies of P5 folders) and of a
 * missing final newline. Whitespace-only lines are passed through; callers decide what they mean.
 */
export function* numberedLines(text: string): Generator<[line: string, lineNo: number]> {
  let start = 0;
  let lineNo = 1;
  // A UTF-8 byte order mark at the top would otherwise glue itself to the first id.
  if (text.charCodeAt(0) === 0xfeff) start = 1;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    yield [text.slice(start, stop), lineNo];
    start = end + 1;
    lineNo++;
  }
}

/** Split a line into fields on single spaces or tabs; trailing whitespace ignored. Empty fields are kept (callers reject them). */
export function splitFields(line: string): string[] {
  const trimmed = line.replace(/[ \t]+$/, '');
  if (trimmed === '') return [];
  return trimmed.split(/[ \t]/);
}

/** A positive 1-based integer id, or undefined. */
export function parseId(field: string): number | undefined {
  // A char-code loop, not a regex: this runs once per id of every sequence (200k-300k per dataset).
  const len = field.length;
  if (len === 0 || len > 15) return undefined;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const c = field.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n >= 1 ? n : undefined;
}

/** Describe why `field` is not a valid 1-based id (for error messages). */
export function idProblem(field: string, role: string, column: number): string {
  if (field === '') return `empty ${role} at field ${column} (two separators in a row or a leading space)`;
  if (/^[0-9]+$/.test(field) && Number(field) === 0) return `${role} "0" at field ${column}: ids are 1-based`;
  return `${role} ${JSON.stringify(field.length > 40 ? field.slice(0, 40) + '...' : field)} at field ${column} is not a positive integer`;
}
