/**
 * Line charts for the report folders, described in vega-lite and rendered to SVG by vega in Node (no browser, no
 * canvas: vega's headless SVG renderer lays text out by an estimate that errs wide, so the chart grows to hold its
 * titles and legends instead of cutting them). One line with point markers per series, colours in the given order,
 * and optional markers: single points drawn larger, in their series' colour, named in a second legend (e.g. the test
 * value of the prompt a search kept, at its kept epoch). Used for the validation surrogate per epoch, the metric
 * against wall time, the test metrics against the prompt length l, and the pretraining curves.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Series {
  /** A name for a reader ("non-personalized, l = 5"): the legend shows it whole. */
  name: string;
  /** [x, y] points, joined in the given order; non-finite points are skipped. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface Marker {
  /** What the marker is ("test, kept prompt"): one legend entry per name. */
  name: string;
  /** The series whose colour it takes. */
  series: string;
  x: number;
  y: number;
}

export interface PlotOptions {
  title: string;
  /** A line under the title (wrapped when long). */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** Title of the series legend (default none). */
  legendTitle?: string;
  markers?: readonly Marker[];
  /** Join points as steps (the value holds until the next point), e.g. a best-so-far score. */
  step?: boolean;
  /** Size of the plot area; the SVG adds its titles, axes and legends around it. Defaults 480 x 300. */
  width?: number;
  height?: number;
}

/** Tableau 10: distinct for up to ten series, readable on white. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const SHAPES = ['diamond', 'square', 'triangle-up', 'cross', 'triangle-down'];
/** Labels and titles are never truncated: vega's default legend label limit is 160 px. */
const NO_LIMIT = 100000;
const FONT = 'Helvetica, Arial, sans-serif';

/** Words packed into lines of at most `width` characters (a longer word stands alone). */
export function wrapText(s: string, width = 70): string[] {
  const lines: string[] = [];
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

const finite = ([x, y]: readonly [number, number]) => Number.isFinite(x) && Number.isFinite(y);

/** The vega-lite description of the chart (what `plotLines` renders). */
export function lineChartSpec(series: readonly Series[], opts: PlotOptions): TopLevelSpec {
  const markers = (opts.markers ?? []).filter((m) => finite([m.x, m.y]));
  const names = [...series.map((s) => s.name)];
  for (const m of markers) if (!names.includes(m.series)) names.push(m.series);
  const lines = series.flatMap((s) => s.points.filter(finite).map(([x, y], i) => ({ series: s.name, x, y, i })));
  const xs = [...lines.map((p) => p.x), ...markers.map((m) => m.x)];
  const integerX = xs.length > 0 && xs.every(Number.isInteger);
  const markerNames = [...new Set(markers.map((m) => m.name))];

  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: opts.xLabel,
    scale: { zero: false, nice: true },
    axis: { titleLimit: NO_LIMIT, ...(integerX ? { tickMinStep: 1, format: 'd' } : {}) },
  };
  const y = { field: 'y', type: 'quantitative' as const, title: opts.yLabel, scale: { zero: false, nice: true }, axis: { titleLimit: NO_LIMIT } };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    scale: { domain: names, range: names.map((_, i) => PALETTE[i % PALETTE.length]!) },
    legend: { title: opts.legendTitle ?? null, labelLimit: NO_LIMIT, titleLimit: NO_LIMIT, symbolType: 'stroke' },
  };
  const layers: NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']> = [
    {
      data: { values: lines },
      mark: { type: 'line', point: { filled: true, size: 30 }, strokeWidth: 2, ...(opts.step ? { interpolate: 'step-after' as const } : {}) },
      encoding: { x, y, color, order: { field: 'i', type: 'quantitative' } },
    },
  ];
  if (markers.length > 0) {
    layers.push({
      data: { values: markers.map((m) => ({ series: m.series, marker: m.name, x: m.x, y: m.y })) },
      mark: { type: 'point', filled: true, size: 150, stroke: '#222222', strokeWidth: 1, opacity: 1 },
      encoding: {
        x,
        y,
        color,
        shape: {
          field: 'marker',
          type: 'nominal',
          scale: { domain: markerNames, range: markerNames.map((_, i) => SHAPES[i % SHAPES.length]!) },
          legend: { title: null, labelLimit: NO_LIMIT, symbolFillColor: '#555555', symbolStrokeColor: '#222222' },
        },
      },
    });
  }
  const title = opts.subtitle
    ? { text: wrapText(opts.title), subtitle: wrapText(opts.subtitle, 80), anchor: 'start' as const, limit: NO_LIMIT, subtitleColor: '#444444', subtitlePadding: 4, offset: 14 }
    : { text: wrapText(opts.title), anchor: 'start' as const, limit: NO_LIMIT, offset: 14 };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: opts.title,
    title,
    width: opts.width ?? 480,
    height: opts.height ?? 300,
    background: 'white',
    padding: 12,
    autosize: { type: 'pad' },
    layer: layers,
    resolve: { scale: { color: 'shared' } },
    config: { font: FONT, title: { fontSize: 15 }, axis: { labelFontSize: 11, titleFontSize: 13 }, legend: { labelFontSize: 12, orient: 'right' } },
  };
}

/** Render a vega-lite spec to SVG text, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/** The chart as SVG text. */
export async function plotLines(series: readonly Series[], opts: PlotOptions): Promise<string> {
  return renderSvg(lineChartSpec(series, opts));
}
