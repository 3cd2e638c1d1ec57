import { describe, expect, it } from 'vitest';
import { niceAxis, plotLines } from '../../src/report/plot.js';

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict little XML reader, enough to prove the SVG is well-formed: one root, every tag closed in order, quoted
 * unique attributes, only the five predefined entities or numeric references, no stray `<` or `&`.
 */
function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML error at ${i}: ${msg} near ${JSON.stringify(src.slice(i, i + 30))}`);
  };
  const name = /[A-Za-z_][\w.:-]*/y;
  const decode = (s: string) => {
    if (/[<]/.test(s)) fail('raw < in text or attribute');
    return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ent: string | undefined) => {
      if (!ent) return fail('bare &');
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
      if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
      return named[ent] ?? fail(`unknown entity &${ent};`);
    });
  };
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  if (src.startsWith('<?xml')) {
    i = src.indexOf('?>') + 2;
    if (i < 2) fail('unterminated declaration');
  }
  skipSpace();
  const element = (): XmlElement => {
    if (src[i] !== '<') fail('expected <');
    i++;
    name.lastIndex = i;
    const m = name.exec(src) ?? fail('bad tag name');
    i += m[0].length;
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
    for (;;) {
      skipSpace();
      if (src.startsWith('/>', i)) { i += 2; return el; }
      if (src[i] === '>') { i++; break; }
      name.lastIndex = i;
      const a = name.exec(src) ?? fail('bad attribute name');
      i += a[0].length;
      skipSpace();
      if (src[i] !== '=') fail('expected =');
      i++;
      skipSpace();
      const q = src[i];
      if (q !== '"' && q !== "'") fail('unquoted attribute');
      const end = src.indexOf(q!, i + 1);
      if (end < 0) fail('unterminated attribute');
      if (a[0] in el.attrs) fail(`duplicate attribute ${a[0]}`);
      el.attrs[a[0]] = decode(src.slice(i + 1, end));
      i = end + 1;
    }
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${el.name}>`);
      el.text += decode(src.slice(i, lt));
      i = lt;
      if (src.startsWith('</', i)) {
        const close = `</${el.name}>`;
        if (!src.startsWith(close, i)) fail(`expected ${close}`);
        i += close.length;
        return el;
      }
      el.children.push(element());
    }
  };
  const root = element();
  skipSpace();
  if (i !== src.length) fail('content after the root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}

describe('parseXml (the test helper)', () => {
  it('rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow();
    expect(() => parseXml('<a x=1/>')).toThrow();
    expect(() => parseXml('<a>R&D</a>')).toThrow();
    expect(() => parseXml('<a/><b/>')).toThrow();
    expect(parseXml('<a x="&lt;1&gt;"><b/>t</a>').attrs.x).toBe('<1>');
  });
});

describe('niceAxis', () => {
  it('picks 1-2-5 steps covering the data', () => {
    expect(niceAxis(0.0123, 0.0871, 5)).toMatchObject({ min: 0, max: 0.1, ticks: [0, 0.02, 0.04, 0.06, 0.08, 0.1], decimals: 2 });
    expect(niceAxis(1, 7, 6, true).ticks).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(niceAxis(1, 3, 6, true).ticks).toEqual([1, 2, 3]); // no half epochs
    const flat = niceAxis(0.5, 0.5);
    expect(flat.min).toBeLessThan(0.5);
    expect(flat.max).toBeGreaterThan(0.5);
  });
});

describe('plotLines', () => {
  const series = [
    { name: 'non-personalized', points: [[1, 0.031], [2, 0.035], [3, 0.041], [4, 0.041]] as [number, number][] },
    { name: 'personalized <l=5> & more', points: [[1, 0.031], [2, 0.038], [3, 0.047], [4, NaN], [5, 0.052]] as [number, number][] },
  ];
  const svg = plotLines(series, { title: 'Validation surrogate (HR@5 + NDCG@5)', xLabel: 'epoch', yLabel: 'surrogate' });
  const root = parseXml(svg);

  it('is a well-formed standalone SVG with title and axis labels', () => {
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    const texts = all(root, (e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain('Validation surrogate (HR@5 + NDCG@5)');
    expect(texts).toContain('epoch');
    expect(texts).toContain('surrogate');
    expect(texts).toContain('personalized <l=5> & more'); // escaped in the file, intact once parsed
  });

  it('draws one polyline per series through its finite points, inside the plot', () => {
    const groups = all(root, (e) => e.name === 'g' && e.attrs.class === 'series');
    expect(groups.map((g) => g.attrs['data-name'])).toEqual(series.map((s) => s.name));
    const counts = groups.map((g) => g.children.find((c) => c.name === 'polyline')!.attrs.points!.trim().split(/\s+/).length);
    expect(counts).toEqual([4, 4]); // the NaN point is skipped
    const width = Number(root.attrs.width);
    const height = Number(root.attrs.height);
    for (const g of groups) {
      const pts = g.children.find((c) => c.name === 'polyline')!.attrs.points!.trim().split(/\s+/).map((p) => p.split(',').map(Number));
      for (const [x, y] of pts) {
        expect(x! > 0 && x! < width && y! > 0 && y! < height).toBe(true);
      }
      // Higher values are drawn higher (smaller y): the series rise.
      expect(pts[pts.length - 1]![1]!).toBeLessThan(pts[0]![1]!);
    }
  });

  it('labels the ticks and lists every series in the legend', () => {
    const tickLabels = all(root, (e) => e.name === 'g' && e.attrs.class === 'tick-labels')[0]!.children.map((c) => c.text);
    for (const x of ['1', '2', '3', '4', '5']) expect(tickLabels).toContain(x);
    expect(tickLabels).toContain('0.030');
    const legend = all(root, (e) => e.name === 'g' && e.attrs.class === 'legend')[0]!;
    expect(legend.children.filter((c) => c.name === 'text').map((c) => c.text)).toEqual(series.map((s) => s.name));
  });

  it('draws empty and single-point series without breaking the document', () => {
    const one = parseXml(plotLines([{ name: 'only', points: [[5, 0.2]] }, { name: 'none', points: [] }], { title: 't', xLabel: 'l', yLabel: 'HR@5' }));
    expect(all(one, (e) => e.name === 'polyline')).toHaveLength(0);
    expect(all(one, (e) => e.name === 'circle').length).toBeGreaterThanOrEqual(1);
    expect(() => parseXml(plotLines([], { title: 'empty', xLabel: 'x', yLabel: 'y' }))).not.toThrow();
  });
});
