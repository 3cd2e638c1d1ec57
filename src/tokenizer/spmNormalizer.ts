import { PrecompiledCharsmap } from './charsmap.js';

export const WORD_START = '\u2581'; // ▁, SentencePiece's escaped whitespace

export interface SpmNormalizerOptions {
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/**
 * SentencePiece's Normalizer::Normalize, step for step: longest-match replacement through the precompiled charsmap
 * (characters without an entry are copied), leading whitespace dropped, a `▁` dummy prefix, runs of spaces
 * collapsed (a replacement's leading spaces are dropped while the previous output ended in a space), spaces
 * escaped to `▁`, trailing `▁`s removed. Replacements are whole strings (e.g. "ﬁ" -> "fi"), so NFKC alone is not
 * the same thing: the charsmap also deletes control characters and maps odd spaces and tabs to " ".
 */
export class SpmNormalizer {
  private buf = new Uint8Array(1024);
  private readonly match = new Int32Array(1);
  /** plainLead[b] = 1 when no charsmap key starts with byte b (then the trie walk is skipped). */
  private readonly plainLead = new Uint8Array(256);

  constructor(
    private readonly charsmap: PrecompiledCharsmap | null,
    private readonly opts: SpmNormalizerOptions,
  ) {
    for (let b = 0; b < 256; b++) this.plainLead[b] = charsmap === null || !charsmap.hasKeyStartingWith(b) ? 1 : 0;
  }

  normalize(text: string): string {
    if (text.length === 0) return '';
    if (this.buf.length < text.length * 3) this.buf = new Uint8Array(text.length * 3 + 16);
    const bytes = this.buf;
    const size = ENCODER.encodeInto(text, bytes).written;
    const removeExtra = this.opts.removeExtraWhitespaces;
    const escape = this.opts.escapeWhitespaces;
    const space = escape ? WORD_START : ' ';
    const charsmap = this.charsmap;
    const plain = this.plainLead;

    let pos = 0; // byte position
    let si = 0; // UTF-16 index in `text` of the same position
    if (removeExtra) {
      // Drop leading characters whose normalized form is exactly " ".
      while (pos < size) {
        const m = plain[bytes[pos]!] ? 0 : charsmap!.longestMatch(bytes, pos, size, this.match);
        if (m > 0) {
          if (charsmap!.replacement(this.match[0]!) !== ' ') break;
          si += utf16Units(bytes, pos, pos + m);
          pos += m;
        } else {
          if (bytes[pos] !== 0x20) break;
          pos++;
          si++;
        }
      }
    }
    if (pos >= size) return '';

    let out = this.opts.addDummyPrefix ? space : '';
    let prevSpace = removeExtra;
    let run = si; // text[run, si) is copied unchanged, appended lazily
    while (pos < size) {
      const b = bytes[pos]!;
      const m = plain[b] ? 0 : charsmap!.longestMatch(bytes, pos, size, this.match);
      if (m === 0) {
        // No charsmap entry: the character is its own normalization.
        const len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        const units = len === 4 ? 2 : 1;
        if (b === 0x20) {
          out += text.slice(run, si);
          if (!prevSpace) out += space;
          prevSpace = removeExtra;
          run = si + 1;
        } else {
          prevSpace = false;
        }
        pos += len;
        si += units;
        continue;
      }
      out += text.slice(run, si);
      let sp = charsmap!.replacement(this.match[0]!);
      if (prevSpace) {
        let k = 0;
        while (k < sp.length && sp.charCodeAt(k) === 32) k++;
        if (k > 0) sp = sp.slice(k);
      }
      if (sp.length > 0) {
        out += escape && sp.indexOf(' ') >= 0 ? sp.replaceAll(' ', WORD_START) : sp;
        prevSpace = removeExtra && sp.charCodeAt(sp.length - 1) === 32;
      } else if (!removeExtra) prevSpace = false;
      si += utf16Units(bytes, pos, pos + m);
      pos += m;
      run = si;
    }
    out += text.slice(run, si);
    if (removeExtra) {
      let end = out.length;
      while (end > 0 && out[end - 1] === space) end--;
      if (end < out.length) out = out.slice(0, end);
    }
    return out;
  }
}

const ENCODER = new TextEncoder();

/** UTF-16 code units of the valid UTF-8 bytes [from, to). */
function utf16Units(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1;
  }
  return n;
}
