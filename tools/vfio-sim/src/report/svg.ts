// Tiny inline-SVG plotting: grouped bar charts and line charts with linear or log axes. Output is
// plain markup (no script), so the HTML report is one self-contained file.

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Round ticks from 0 up to the first tick at or above hi (so the top tick bounds the data). hi is
 * positive and finite: axis() takes it from the finite values and at least 1e-9.
 */
function niceTicks(hi: number, integer: boolean, n = 5): number[] {
  const raw = hi / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw)!;
  if (integer) step = Math.max(1, Math.round(step));
  const out: number[] = [];
  // a value a billionth of a step above a tick (float noise) ends the axis at that tick
  for (let v = 0; ; v += step) {
    out.push(+v.toPrecision(12));
    if (v >= hi - step * 1e-9) break;
  }
  return out;
}

function shortNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

interface Axis {
  map(v: number): number;
  ticks: number[];
  fmt(v: number): string;
}

function axis(values: number[], log: boolean, from: number, to: number, fmt: (v: number) => string, radix = 10, integer = false): Axis {
  // the scale comes from the finite values only (a NaN or an infinity has no place on it)
  values = values.filter(Number.isFinite);
  const pos = values.filter((v) => v > 0);
  if (log && pos.length > 0) {
    const lg = (v: number): number => Math.log(v) / Math.log(radix);
    const lo = Math.floor(lg(Math.min(...pos)) + 1e-9),
      hi = Math.max(lo + 1, Math.ceil(lg(Math.max(...pos)) - 1e-9));
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) ticks.push(radix ** e);
    // the axis starts a third of a step below the lowest tick so the smallest bar stays visible
    const base = lo - 0.3;
    return { map: (v) => from + ((lg(Math.max(v, radix ** base)) - base) / (hi - base)) * (to - from), ticks, fmt };
  }
  const hi = Math.max(1e-9, ...values);
  const ticks = niceTicks(hi, integer);
  const top = ticks[ticks.length - 1]!;
  return { map: (v) => from + (v / top) * (to - from), ticks, fmt };
}

export interface Series {
  readonly name: string;
  readonly values: readonly number[];
}

/** Rough width of a label in px (system-ui at 10px: digits and most letters ~6 px). */
const textWidth = (t: string): number => t.length * 6;

/**
 * One bar's value label: above the bar, horizontal when the bar is wide enough, else rotated to read
 * upwards; when a rotated label would run into the title, it goes inside the (then tall) bar, white.
 */
function valueLabel(text: string, cx: number, top: number, bw: number, base: number, titleBottom: number): string {
  const w = textWidth(text);
  if (bw >= w + 2) {
    return `<text class="v" x="${cx.toFixed(1)}" y="${(top - 3).toFixed(1)}" text-anchor="middle">${esc(text)}</text>`;
  }
  const inside = top - 4 - w < titleBottom && base - top >= w + 6;
  const y = inside ? top + 4 : top - 4;
  return `<text class="v${inside ? ' in' : ''}" transform="translate(${(cx + 3.5).toFixed(1)},${y.toFixed(1)}) rotate(-90)" text-anchor="${inside ? 'end' : 'start'}">${esc(text)}</text>`;
}

/**
 * Grouped bars: one group per category, one bar per series, each bar labelled with its value
 * (`value`, default `tick`). Both axes have a title (`xLabel`, `yLabel`: what and the unit);
 * `tick` formats the y ticks and should carry the unit when the values have one (bytes, time).
 */
export function barChart(o: {
  title: string;
  categories: readonly string[];
  series: readonly Series[];
  xLabel: string;
  yLabel: string;
  log?: boolean;
  integer?: boolean;
  tick?: (v: number) => string;
  value?: (v: number) => string;
  width?: number;
}): string {
  const wide = o.categories.length * o.series.length <= 16;
  // horizontal value labels need room above the tallest bar; rotated ones fall back inside it
  const W = o.width ?? 560,
    H = 300,
    L = 70,
    R = 12,
    T = wide ? 48 : 34,
    B = 58,
    TITLE_BOTTOM = 24;
  const tick = o.tick ?? shortNum;
  const value = o.value ?? tick;
  const all = o.series.flatMap((s) => s.values);
  const y = axis(all, o.log ?? false, H - B, T, tick, 10, o.integer ?? false);
  const gw = (W - L - R) / Math.max(1, o.categories.length);
  const bw = Math.max(2, (gw * 0.8) / Math.max(1, o.series.length));
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(o.title)}</text>`);
  for (const t of y.ticks) {
    const py = y.map(t);
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" class="g"/><text x="${L - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end" class="a tick">${esc(y.fmt(t))}</text>`,
    );
  }
  parts.push(`<text transform="translate(14,${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" class="a ay">${esc(o.yLabel)}</text>`);
  const labels: string[] = [];
  o.categories.forEach((c, i) => {
    const gx = L + i * gw + gw * 0.1;
    o.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const y0 = y.map(0),
        y1 = v > 0 ? y.map(v) : y0;
      const h = Math.max(v > 0 ? 1 : 0, y0 - y1);
      const x = gx + k * bw;
      parts.push(
        `<rect class="m" x="${x.toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${s.name} ${c}: ${value(v)}`)}</title></rect>`,
      );
      if (v > 0) labels.push(valueLabel(value(v), x + (bw - 1) / 2, y0 - h, bw - 1, y0, TITLE_BOTTOM));
    });
    parts.push(`<text x="${(L + i * gw + gw / 2).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" class="a">${esc(c)}</text>`);
  });
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="x"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - B + 32}" text-anchor="middle" class="a ax">${esc(o.xLabel)}</text>`);
  // value labels last, over the bars of the next group
  parts.push(...labels);
  if (o.series.length > 1)
    parts.push(
      legend(
        o.series.map((s) => s.name),
        L,
        H - 8,
      ),
    );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg>`;
}

/** Lines over a numeric x axis; both axes titled (`xLabel`, `yLabel`: what and the unit), `fmt` formats the y ticks and tooltips. */
export function lineChart(o: {
  title: string;
  x: readonly number[];
  xLabel: string;
  series: readonly Series[];
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  yRadix?: number;
  fmt?: (v: number) => string;
  width?: number;
}): string {
  const W = o.width ?? 560,
    H = 300,
    L = 70,
    R = 16,
    T = 34,
    B = 58;
  const fmt = o.fmt ?? shortNum;
  const xa = o.logX ? axis([...o.x], true, L, W - R, shortNum) : linX([...o.x], L, W - R);
  const ya = axis(
    o.series.flatMap((s) => s.values),
    o.logY ?? false,
    H - B,
    T,
    fmt,
    o.yRadix ?? 10,
  );
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(o.title)}</text>`);
  for (const t of ya.ticks) {
    const py = ya.map(t);
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" class="g"/><text x="${L - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end" class="a tick">${esc(ya.fmt(t))}</text>`,
    );
  }
  // swept values as typed (4096, not 4.1k) unless they are long
  const xTick = (v: number): string => (Number.isInteger(v) && Math.abs(v) < 1e5 ? String(v) : shortNum(v));
  for (const v of o.x)
    parts.push(`<text x="${xa.map(v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" class="a">${esc(xTick(v))}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - B + 34}" text-anchor="middle" class="a ax">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" class="a ay">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, k) => {
    const pts = o.x.map((x, i) => `${xa.map(x).toFixed(1)},${ya.map(s.values[i] ?? 0).toFixed(1)}`);
    const col = PALETTE[k % PALETTE.length];
    parts.push(`<polyline class="m" points="${pts.join(' ')}" fill="none" stroke="${col}" stroke-width="2"/>`);
    o.x.forEach((x, i) => {
      parts.push(
        `<circle class="m" cx="${xa.map(x).toFixed(1)}" cy="${ya.map(s.values[i] ?? 0).toFixed(1)}" r="3.5" fill="${col}"><title>${esc(`${s.name} @ ${x}: ${fmt(s.values[i] ?? 0)}`)}</title></circle>`,
      );
    });
  });
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="x"/>`);
  if (o.series.length > 1)
    parts.push(
      legend(
        o.series.map((s) => s.name),
        L,
        H - 8,
      ),
    );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg>`;
}

function linX(xs: number[], from: number, to: number): Axis {
  const lo = Math.min(...xs),
    hi = Math.max(...xs);
  const span = hi - lo || 1;
  return { map: (v) => from + ((v - lo) / span) * (to - from), ticks: xs, fmt: shortNum };
}

function legend(names: readonly string[], x: number, y: number): string {
  let cx = x;
  return names
    .map((n, k) => {
      const s = `<rect x="${cx}" y="${y - 9}" width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/><text x="${cx + 14}" y="${y}" class="a">${esc(n)}</text>`;
      cx += 24 + n.length * 6.5;
      return s;
    })
    .join('');
}
