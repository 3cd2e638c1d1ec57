import { describe, expect, it } from 'vitest';
import { PALETTE, lineChartSpec, plotLines, wrapText } from '../../src/report/plot.js';

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

const texts = (root: XmlElement, role: string) =>
  all(root, (e) => e.name === 'g' && (e.attrs.class ?? '').includes(role)).flatMap((g) => all(g, (e) => e.name === 'text')).map((e) => e.text + e.children.map((c) => c.text).join(' '));

describe('wrapText', () => {
  it('packs words into lines of at most the width, a longer word alone', () => {
    expect(wrapText('a bb ccc dddd', 6)).toEqual(['a bb', 'ccc', 'dddd']);
    expect(wrapText('abcdefghij k', 4)).toEqual(['abcdefghij', 'k']);
    expect(wrapText('short title')).toEqual(['short title']);
  });
});

describe('plotLines (vega-lite rendered by vega, headless)', () => {
  const series = [
    { name: 'personalized, l = 5', points: [[1, 0.031], [2, 0.038], [3, 0.047], [4, NaN], [5, 0.052]] as [number, number][] },
    { name: 'non-personalized <l=5> & more', points: [[1, 0.031], [2, 0.035], [3, 0.041], [4, 0.041]] as [number, number][] },
  ];
  const opts = {
    title: 'Validation surrogate (HR@5 + NDCG@5)',
    subtitle: 'diamond: the test value of the kept prompt',
    xLabel: 'epoch',
    yLabel: 'surrogate',
    legendTitle: 'search',
    markers: [{ name: 'test, kept prompt', series: 'personalized, l = 5', x: 5, y: 0.044 }],
  };
  let svg = '';
  let root: XmlElement;
  it('renders a well-formed SVG with the title, subtitle, axis titles and every series named whole', async () => {
    svg = await plotLines(series, opts);
    root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    expect(texts(root, 'role-title-text')).toEqual([opts.title]);
    expect(texts(root, 'role-title-subtitle')).toEqual([opts.subtitle]);
    expect(texts(root, 'role-axis-title')).toEqual(['epoch', 'surrogate']);
    // Legends: the series in the given order, escaped in the file and intact once parsed, never shortened with "…".
    expect(texts(root, 'role-legend-label')).toEqual([...series.map((s) => s.name), 'test, kept prompt']);
    expect(texts(root, 'role-legend-title')).toEqual(['search']);
    expect(svg).not.toContain('…');
  });

  it('draws one line per series through its finite points, and the marker', () => {
    const lines = all(root, (e) => e.name === 'g' && (e.attrs.class ?? '').startsWith('mark-line'));
    const paths = lines.flatMap((g) => all(g, (e) => e.name === 'path'));
    expect(paths).toHaveLength(2);
    // M + one L per further point: 4 finite points each (the NaN one is skipped).
    expect(paths.map((p) => (p.attrs.d!.match(/L/g) ?? []).length).sort()).toEqual([3, 3]);
    // Colours in the given order, the same in the legend: personalized (first) takes the first colour.
    expect(paths.map((p) => p.attrs.stroke).sort()).toEqual([PALETTE[0], PALETTE[1]].sort());
    const marker = all(root, (e) => e.name === 'g' && (e.attrs.class ?? '').split(' ').includes('layer_1_marks'))[0]!;
    const points = all(marker, (e) => e.name === 'path');
    expect(points).toHaveLength(1);
    expect(points[0]!.attrs.fill).toBe(PALETTE[0]);
  });

  it('is deterministic: the same input gives the same bytes, whatever was rendered before', async () => {
    await plotLines([{ name: 'other', points: [[0, 1], [1, 2]] }], { title: 'other', xLabel: 'x', yLabel: 'y' });
    expect(await plotLines(series, opts)).toBe(svg);
  });

  it('makes room for long titles and legend names instead of cutting them', async () => {
    const short = parseXml(await plotLines([{ name: 'a', points: [[1, 1], [2, 2]] }], { title: 't', xLabel: 'x', yLabel: 'y' }));
    const name = 'personalized, l = 5, prefix placement, with a deliberately long legend label';
    const long = parseXml(await plotLines([{ name, points: [[1, 1], [2, 2]] }], { title: 't', xLabel: 'x', yLabel: 'y' }));
    // Helvetica averages over 0.5 em per character: the label needs at least 0.5 * 12 px * its length.
    expect(Number(long.attrs.width) - Number(short.attrs.width)).toBeGreaterThan(0.5 * 12 * (name.length - 1));
    expect(texts(long, 'role-legend-label')).toEqual([name]);
    const title = 'A title of more than seventy characters is wrapped onto two lines, never cut at the edge';
    const wrapped = parseXml(await plotLines([], { title, xLabel: 'x', yLabel: 'y' }));
    expect(texts(wrapped, 'role-title-text')).toEqual([wrapText(title).join(' ')]);
    expect(Number(wrapped.attrs.width)).toBeGreaterThan(0.5 * 15 * Math.max(...wrapText(title).map((l) => l.length)));
  });

  it('draws empty and single-point series without NaN', async () => {
    const one = await plotLines([{ name: 'only', points: [[5, 0.2]] }, { name: 'none', points: [] }], { title: 't', xLabel: 'l', yLabel: 'HR@5' });
    expect(() => parseXml(one)).not.toThrow();
    expect(one).not.toContain('NaN');
    expect(texts(parseXml(one), 'role-legend-label')).toEqual(['only', 'none']);
    const empty = await plotLines([], { title: 'empty', xLabel: 'x', yLabel: 'y' });
    expect(() => parseXml(empty)).not.toThrow();
    expect(empty).not.toContain('NaN');
  });

  it('asks for whole-number ticks when every x is an integer', () => {
    const spec = lineChartSpec(series, opts) as { layer: Array<{ encoding: { x: { axis: Record<string, unknown> } } }> };
    expect(spec.layer[0]!.encoding.x.axis).toMatchObject({ tickMinStep: 1, format: 'd' });
    const real = lineChartSpec([{ name: 's', points: [[0.5, 1]] }], opts) as typeof spec;
    expect(real.layer[0]!.encoding.x.axis.format).toBeUndefined();
  });
});
