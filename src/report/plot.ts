/**
 * plotLines: a standalone SVG line chart written by hand (no browser, no layout engine): title, axes with "nice"
 * ticks (1, 2, 5 x 10^k), light grid lines, one polyline with point markers per series, and a legend to the right.
 * Used for the validation surrogate per epoch and for the test metric against the prompt length l.
 */

export interface Series {
  name: string;
  /** [x, y] points, drawn in the given order; non-finite points are skipped. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number; // default 640
  height?: number; // default 400
}

/** Tableau 10: distinct for up to ten series, readable on white. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Round for coordinates: short output, no float noise like 12.000000000001. */
function c(x: number): string {
  return String(Math.round(x * 100) / 100);
}

export interface Axis {
  min: number;
  max: number;
  ticks: number[];
  decimals: number;
}

/** Nice axis over [lo, hi] with about `target` intervals; integer steps when every value is an integer. */
export function niceAxis(lo: number, hi: number, target = 5, integers = false): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  if (integers && step < 1) step = 1;
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let k = 0; min + k * step <= max + step * 1e-9; k++) ticks.push(Number((min + k * step).toFixed(decimals)));
  return { min, max, ticks, decimals };
}

/** The chart as SVG text. */
export function plotLines(series: readonly Series[], opts: PlotOptions): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  const clean = series.map((s) => ({
    name: s.name,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const all = clean.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xAxis = niceAxis(Math.min(...xs), Math.max(...xs), 6, xs.every(Number.isInteger));
  const yAxis = niceAxis(Math.min(...ys), Math.max(...ys), 5);

  const legendWidth = clean.length === 0 ? 0 : 36 + 7 * Math.max(...clean.map((s) => s.name.length));
  const left = 72;
  const right = 16 + legendWidth;
  const top = 40;
  const bottom = 56;
  const pw = Math.max(40, width - left - right);
  const ph = Math.max(40, height - top - bottom);
  const sx = (x: number) => left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * pw;
  const sy = (y: number) => top + ph - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * ph;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  out.push(`<title>${escapeXml(opts.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${c(left + pw / 2)}" y="24" text-anchor="middle" font-size="16" ${FONT}>${escapeXml(opts.title)}</text>`);

  // Grid and ticks.
  out.push('<g class="axes" stroke="#333333" stroke-width="1">');
  for (const t of yAxis.ticks) {
    const y = c(sy(t));
    out.push(`<line x1="${left}" y1="${y}" x2="${c(left + pw)}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}"/>`);
  }
  for (const t of xAxis.ticks) {
    const x = c(sx(t));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${c(top + ph)}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${x}" y1="${c(top + ph)}" x2="${x}" y2="${c(top + ph + 5)}"/>`);
  }
  out.push(`<line x1="${left}" y1="${c(top + ph)}" x2="${c(left + pw)}" y2="${c(top + ph)}"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${c(top + ph)}"/>`);
  out.push('</g>');
  out.push(`<g class="tick-labels" font-size="11" fill="#333333" ${FONT}>`);
  for (const t of yAxis.ticks) {
    out.push(`<text x="${left - 8}" y="${c(sy(t) + 4)}" text-anchor="end">${t.toFixed(yAxis.decimals)}</text>`);
  }
  for (const t of xAxis.ticks) {
    out.push(`<text x="${c(sx(t))}" y="${c(top + ph + 18)}" text-anchor="middle">${t.toFixed(xAxis.decimals)}</text>`);
  }
  out.push('</g>');
  out.push(`<text x="${c(left + pw / 2)}" y="${c(height - 14)}" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(opts.xLabel)}</text>`);
  const yMid = c(top + ph / 2);
  out.push(`<text x="18" y="${yMid}" transform="rotate(-90 18 ${yMid})" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(opts.yLabel)}</text>`);

  // Series, then the legend.
  clean.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${color}" fill="${color}">`);
    if (s.points.length > 1) {
      const pts = s.points.map(([x, y]) => `${c(sx(x))},${c(sy(y))}`).join(' ');
      out.push(`<polyline fill="none" stroke-width="2" points="${pts}"/>`);
    }
    for (const [x, y] of s.points) out.push(`<circle cx="${c(sx(x))}" cy="${c(sy(y))}" r="3"/>`);
    out.push('</g>');
  });
  if (clean.length > 0) {
    const lx = left + pw + 16;
    out.push(`<g class="legend" font-size="12" ${FONT}>`);
    clean.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length] as string;
      const y = top + 8 + i * 20;
      out.push(`<line x1="${c(lx)}" y1="${y}" x2="${c(lx + 22)}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
      out.push(`<circle cx="${c(lx + 11)}" cy="${y}" r="3" fill="${color}"/>`);
      out.push(`<text x="${c(lx + 28)}" y="${y + 4}" fill="#333333">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
