// The inline-SVG charts read back element by element: where each tick, bar, point and label lands,
// computed here from the layout the module documents (a 560 x 300 box, 70 px left and 58 px bottom
// margins, the top margin 48 px when the bars are few and 34 px otherwise, ticks rounded up to 1, 2
// or 5 times a power of ten, log axes a third of a decade below the lowest value).

import { describe, expect, it } from 'vitest';
import { barChart, esc, lineChart } from '../src/report/svg.js';
import { elements, num } from './svg-elements.js';

const near = (a: number, b: number): void => {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(0.051);
};

describe('bar chart', () => {
  const svg = barChart({
    title: 'Syncs <per> case & "all"',
    categories: ['v4.16', 'v4.17'],
    series: [
      { name: 'syncs', values: [7, 3] },
      { name: 'waits', values: [0, 5] },
    ],
    xLabel: 'kernel',
    yLabel: 'count',
    integer: true,
  });
  const els = elements(svg);
  // 2 x 2 bars: few, so the top margin is 48; the ticks go 0, 2, ... up to the first at or above 7
  const top = 48,
    base = 300 - 58,
    yOf = (v: number) => base + (v / 8) * (top - base);

  it('test_frame_title_and_axes', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 300" width="560" height="300" role="img">')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    const title = els.find((e) => e.attrs.class === 't')!;
    expect([title.attrs.x, title.attrs.y, title.text]).toEqual(['280', '18', 'Syncs &lt;per&gt; case &amp; &quot;all&quot;']);
    const ticks = els.filter((e) => e.attrs.class === 'a tick');
    expect(ticks.map((e) => e.text)).toEqual(['0', '2', '4', '6', '8']);
    const grid = els.filter((e) => e.attrs.class === 'g');
    expect(grid.length).toBe(5);
    grid.forEach((g, i) => {
      near(num(g, 'y1'), yOf(2 * i));
      expect([g.attrs.x1, g.attrs.x2, g.attrs.y2]).toEqual(['70', '548', g.attrs.y1]);
      // each tick's label sits 4 px below its line, right-aligned 6 px left of the plot
      near(num(ticks[i]!, 'y'), yOf(2 * i) + 4);
      expect(ticks[i]!.attrs.x).toBe('64');
    });
    const x = els.find((e) => e.attrs.class === 'x')!;
    expect([x.attrs.x1, x.attrs.x2, x.attrs.y1, x.attrs.y2]).toEqual(['70', '548', String(base), String(base)]);
    const ax = els.find((e) => e.attrs.class === 'a ax')!;
    expect([ax.attrs.x, ax.attrs.y, ax.text]).toEqual([String((70 + 548) / 2), String(base + 32), 'kernel']);
    const ay = els.find((e) => e.attrs.class === 'a ay')!;
    expect([ay.attrs.transform, ay.text]).toEqual([`translate(14,${(top + base) / 2}) rotate(-90)`, 'count']);
  });

  it('test_bars_heights_and_places', () => {
    const bars = els.filter((e) => e.tag === 'rect' && e.attrs.class === 'm');
    const gw = (560 - 70 - 12) / 2,
      bw = (gw * 0.8) / 2;
    const want = [
      [0, 0, 7, 'syncs v4.16: 7', '#4e79a7'],
      [0, 1, 0, 'waits v4.16: 0', '#f28e2b'],
      [1, 0, 3, 'syncs v4.17: 3', '#4e79a7'],
      [1, 1, 5, 'waits v4.17: 5', '#f28e2b'],
    ] as const;
    expect(bars.length).toBe(4);
    bars.forEach((b, j) => {
      const [i, k, v, tip, fill] = want[j]!;
      near(num(b, 'x'), 70 + i * gw + gw * 0.1 + k * bw);
      near(num(b, 'width'), bw - 1);
      near(num(b, 'height'), base - yOf(v));
      near(num(b, 'y'), yOf(v));
      expect([b.text, b.attrs.fill]).toEqual([tip, fill]);
    });
    // category names under the middle of their group
    const cats = els.filter((e) => e.tag === 'text' && e.attrs.class === 'a' && (e.text === 'v4.16' || e.text === 'v4.17'));
    expect(cats.map((e) => [num(e, 'x'), e.attrs.y])).toEqual([
      [Number((70 + gw / 2).toFixed(1)), String(base + 16)],
      [Number((70 + gw + gw / 2).toFixed(1)), String(base + 16)],
    ]);
    // value labels for the non-zero bars only, horizontal (the bars are wide), 3 px above each
    const labels = els.filter((e) => e.attrs.class === 'v');
    expect(labels.map((e) => e.text)).toEqual(['7', '3', '5']);
    near(num(labels[0]!, 'y'), yOf(7) - 3);
    near(num(labels[0]!, 'x'), 70 + gw * 0.1 + (bw - 1) / 2);
  });

  it('test_legend_for_several_series_only', () => {
    const legend = els.filter((e) => e.tag === 'rect' && e.attrs.class === undefined);
    expect(legend.map((e) => [e.attrs.x, e.attrs.y, e.attrs.fill])).toEqual([
      ['70', String(300 - 8 - 9), '#4e79a7'],
      [String(70 + 24 + 5 * 6.5), String(300 - 8 - 9), '#f28e2b'],
    ]);
    const one = barChart({ title: 't', categories: ['a'], series: [{ name: 's', values: [1] }], xLabel: 'x', yLabel: 'y' });
    expect(elements(one).filter((e) => e.tag === 'rect' && e.attrs.class === undefined)).toEqual([]);
  });

  it('test_many_bars_rotate_their_labels', () => {
    // 9 categories x 2 series: 18 bars, a top margin of 34; narrow bars label upward, and the tallest
    // one, whose label would reach the title, carries it inside, end-anchored
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 1_000_000];
    const many = elements(
      barChart({
        title: 't',
        categories: values.map((_, i) => `c${i}`),
        series: [
          { name: 'a', values },
          { name: 'b', values: values.map(() => 0) },
        ],
        xLabel: 'x',
        yLabel: 'y',
        value: (v) => `${v} units`,
      }),
    );
    const rotated = many.filter((e) => e.attrs.class?.startsWith('v'));
    expect(rotated.length).toBe(9);
    for (const r of rotated) expect(r.attrs.transform).toMatch(/^translate\([\d.]+,[\d.]+\) rotate\(-90\)$/);
    expect(rotated.slice(0, 8).map((r) => [r.attrs.class, r.attrs['text-anchor']])).toEqual(Array(8).fill(['v', 'start']));
    expect([rotated[8]!.attrs.class, rotated[8]!.attrs['text-anchor'], rotated[8]!.text]).toEqual(['v in', 'end', '1000000 units']);
    // the ticks of a large axis read short: 0, 200k, ..., 1M
    expect(many.filter((e) => e.attrs.class === 'a tick').map((e) => e.text)).toEqual(['0', '200k', '400k', '600k', '800k', '1M']);
  });

  it('test_log_axis_starts_below_the_lowest_decade', () => {
    const els2 = elements(
      barChart({
        title: 't',
        categories: ['a', 'b', 'c'],
        series: [{ name: 's', values: [1, 10, 1000] }],
        xLabel: 'x',
        yLabel: 'y',
        log: true,
      }),
    );
    expect(els2.filter((e) => e.attrs.class === 'a tick').map((e) => e.text)).toEqual(['1', '10', '100', '1k']);
    const bars = els2.filter((e) => e.tag === 'rect' && e.attrs.class === 'm');
    expect(bars.length).toBe(3);
    const yLog = (v: number) => base + ((Math.log10(v) + 0.3) / 3.3) * (top - base);
    bars.forEach((b, i) => {
      near(num(b, 'height'), base - yLog([1, 10, 1000][i]!));
    });
  });

  it('test_escape', () => {
    expect(esc(`a&b<c>"d"`)).toBe('a&amp;b&lt;c&gt;&quot;d&quot;');
    expect(esc('&lt;')).toBe('&amp;lt;');
  });
});

describe('line chart', () => {
  it('test_points_on_linear_axes', () => {
    const els = elements(
      lineChart({
        title: 'queue',
        x: [1, 4, 16],
        xLabel: 'tlbSyncMax',
        series: [
          { name: 'syncs', values: [30, 10, 0] },
          { name: 'held', values: [5, 20, 40] },
        ],
        yLabel: 'n',
        width: 400,
      }),
    );
    const L = 70,
      R = 400 - 16,
      base = 242,
      top = 34;
    const xOf = (v: number) => L + ((v - 1) / 15) * (R - L);
    // y ticks 0..40 by 10
    const yOf = (v: number) => base + (v / 40) * (top - base);
    expect(els.filter((e) => e.attrs.class === 'a tick').map((e) => e.text)).toEqual(['0', '10', '20', '30', '40']);
    const xt = els.filter((e) => e.tag === 'text' && e.attrs.class === 'a' && /^\d+$/.test(e.text));
    expect(xt.map((e) => [e.text, num(e, 'x')])).toEqual([1, 4, 16].map((v) => [String(v), Number(xOf(v).toFixed(1))]));
    const lines = els.filter((e) => e.tag === 'polyline');
    expect(lines.map((l) => l.attrs.stroke)).toEqual(['#4e79a7', '#f28e2b']);
    expect(lines[0]!.attrs.points).toBe([1, 4, 16].map((x, i) => `${xOf(x).toFixed(1)},${yOf([30, 10, 0][i]!).toFixed(1)}`).join(' '));
    const dots = els.filter((e) => e.tag === 'circle');
    expect(dots.map((d) => d.text)).toEqual([
      'syncs @ 1: 30',
      'syncs @ 4: 10',
      'syncs @ 16: 0',
      'held @ 1: 5',
      'held @ 4: 20',
      'held @ 16: 40',
    ]);
    near(num(dots[5]!, 'cy'), yOf(40));
    near(num(dots[5]!, 'cx'), xOf(16));
    const ax = els.find((e) => e.attrs.class === 'a ax')!;
    expect([ax.attrs.y, ax.text]).toEqual([String(base + 34), 'tlbSyncMax']);
  });

  it('test_frame_titles_and_legend', () => {
    // width 400: the plot from x 70 to 384 (16 px right margin), y 34 to 242
    const els = elements(
      lineChart({
        title: 'T',
        x: [1, 99_999, 100_000],
        xLabel: 'xl',
        series: [
          { name: 'syncs', values: [1, 2, 3] },
          { name: 'held', values: [3, 2, 1] },
        ],
        yLabel: 'yl',
        width: 400,
      }),
    );
    const t = els.find((e) => e.attrs.class === 't')!;
    expect([t.attrs.x, t.attrs.y, t.text]).toEqual(['200', '18', 'T']);
    const ax = els.find((e) => e.attrs.class === 'a ax')!;
    expect([ax.attrs.x, ax.attrs.y, ax.text]).toEqual(['227', '276', 'xl']);
    const ay = els.find((e) => e.attrs.class === 'a ay')!;
    expect([ay.attrs.transform, ay.text]).toEqual(['translate(14,138) rotate(-90)', 'yl']);
    const x = els.find((e) => e.attrs.class === 'x')!;
    expect([x.tag, x.attrs.x1, x.attrs.x2, x.attrs.y1, x.attrs.y2]).toEqual(['line', '70', '384', '242', '242']);
    // swept values as typed below 100000, short from there
    const xt = els.filter((e) => e.tag === 'text' && e.attrs.class === 'a' && e.attrs.y === '258');
    expect(xt.map((e) => e.text)).toEqual(['1', '99999', '100k']);
    // two series: a legend at the bottom, each name 14 px right of its swatch, the next entry
    // 24 px + 6.5 px a character further
    const swatches = els.filter((e) => e.tag === 'rect');
    expect(swatches.map((e) => [e.attrs.x, e.attrs.y, e.attrs.fill])).toEqual([
      ['70', '283', '#4e79a7'],
      ['126.5', '283', '#f28e2b'],
    ]);
    const names = els.filter((e) => e.tag === 'text' && e.attrs.y === '292');
    expect(names.map((e) => [e.attrs.x, e.text])).toEqual([
      ['84', 'syncs'],
      ['140.5', 'held'],
    ]);
  });

  it('test_log_axes_and_tick_words', () => {
    const els = elements(
      lineChart({
        title: 't',
        x: [1, 64, 4096, 262144],
        xLabel: 'x',
        series: [{ name: 's', values: [1024, 4096, 1 << 20, 1 << 30] }],
        yLabel: 'y',
        logX: true,
        logY: true,
        yRadix: 2,
        fmt: (v) => `${v}B`,
      }),
    );
    // x: decades from 1 to 1e6 (262144 rounds up to 10^6); swept values as typed unless long
    const xt = els.filter((e) => e.tag === 'text' && e.attrs.class === 'a' && e.attrs.y === '258');
    expect(xt.map((e) => e.text)).toEqual(['1', '64', '4096', '262k']);
    const xOf = (v: number) => 70 + ((Math.log10(v) + 0.3) / 6.3) * (544 - 70);
    xt.forEach((e, i) => {
      near(num(e, 'x'), xOf([1, 64, 4096, 262144][i]!));
    });
    // y in powers of two from 2^10 to 2^30, formatted by fmt
    const ticks = els.filter((e) => e.attrs.class === 'a tick').map((e) => e.text);
    expect(ticks.length).toBe(21);
    expect([ticks[0], ticks[20]]).toEqual(['1024B', `${2 ** 30}B`]);
    const yOf = (v: number) => 242 + ((Math.log2(v) - 9.7) / (30 - 9.7)) * (34 - 242);
    const dots = els.filter((e) => e.tag === 'circle');
    expect(dots.length).toBe(4);
    dots.forEach((c, i) => {
      near(num(c, 'cy'), yOf([1024, 4096, 1 << 20, 1 << 30][i]!));
    });
    // one series: no legend
    expect(els.filter((e) => e.tag === 'rect')).toEqual([]);
  });
});

describe('values that are not numbers', () => {
  it('test_nan_and_infinity_do_not_stop_the_chart', () => {
    // the axis is scaled by the finite values: 0, 2, 4 for a largest value of 3
    const els = elements(
      barChart({
        title: 't',
        categories: ['a', 'b', 'c'],
        series: [{ name: 's', values: [Number.NaN, 3, Number.POSITIVE_INFINITY] }],
        xLabel: 'x',
        yLabel: 'y',
      }),
    );
    expect(els.filter((e) => e.attrs.class === 'a tick').map((e) => e.text)).toEqual(['0', '1', '2', '3']);
    // nothing but NaN: drawn as a chart of zeros
    const ticks = (v: number) =>
      elements(barChart({ title: 't', categories: ['a'], series: [{ name: 's', values: [v] }], xLabel: 'x', yLabel: 'y' }))
        .filter((e) => e.attrs.class === 'a tick')
        .map((e) => e.text);
    expect(ticks(Number.NaN)).toEqual(ticks(0));
  });
});

describe('ticks and colours', () => {
  // `integer` left out unless asked for: a bar chart's axis is not a count axis by default
  const ticksOf = (values: number[], integer = false) =>
    elements(
      barChart({
        title: 't',
        categories: values.map(String),
        series: [{ name: 's', values }],
        xLabel: 'x',
        yLabel: 'y',
        ...(integer ? { integer } : {}),
      }),
    )
      .filter((e) => e.attrs.class === 'a tick')
      .map((e) => e.text);

  it('test_tick_steps', () => {
    // a fifth of the largest value, rounded up to 1, 2 or 5 times a power of ten
    expect(ticksOf([0.3])).toEqual(['0', '0.1', '0.2', '0.3']);
    expect(ticksOf([7])).toEqual(['0', '2', '4', '6', '8']);
    // counts: never a step below 1 (a fifth of 2 would be 0.5)
    expect(ticksOf([2], true)).toEqual(['0', '1', '2']);
    expect(ticksOf([2])).toEqual(['0', '0.5', '1', '1.5', '2']);
    // a value a billionth of a step above a tick (float noise) ends the axis at that tick
    expect(ticksOf([3 + 1e-9])).toEqual(['0', '1', '2', '3']);
    expect(ticksOf([3 + 1e-6])).toEqual(['0', '1', '2', '3', '4']);
    // billions read as G, from 1e9 itself
    expect(ticksOf([3e9])).toEqual(['0', '1G', '2G', '3G']);
    expect(ticksOf([2.5e9, 1e8])).toEqual(['0', '500M', '1G', '1.5G', '2G', '2.5G']);
  });

  it('test_palette_wraps_after_ten_series', () => {
    const names = Array.from({ length: 11 }, (_, k) => `s${k}`);
    const els = elements(
      barChart({ title: 't', categories: ['a'], series: names.map((name) => ({ name, values: [1] })), xLabel: 'x', yLabel: 'y' }),
    );
    // Tableau 10, then from the start again
    const tableau = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
    expect(els.filter((e) => e.tag === 'rect' && e.attrs.class === 'm').map((e) => e.attrs.fill)).toEqual([...tableau, tableau[0]]);
    // the legend in the same colours
    expect(els.filter((e) => e.tag === 'rect' && e.attrs.class === undefined).map((e) => e.attrs.fill)).toEqual([...tableau, tableau[0]]);
  });
});

describe('bar value labels and margins', () => {
  /** The value label of bar `i` (the i-th non-zero bar) of a one-series chart. */
  const label = (o: { values: number[]; width: number; value: (v: number) => string }, i = 0) => {
    const els = elements(
      barChart({
        title: 't',
        categories: o.values.map((_, k) => `c${k}`),
        series: [{ name: 's', values: o.values }],
        xLabel: 'x',
        yLabel: 'y',
        width: o.width,
        value: o.value,
      }),
    );
    const l = els.filter((e) => e.attrs.class?.startsWith('v'))[i]!;
    return [l.attrs.class, l.attrs['text-anchor'], l.attrs.transform ?? `x=${l.attrs.x} y=${l.attrs.y}`, l.text];
  };

  it('test_horizontal_when_the_bar_is_2px_wider_than_the_text', () => {
    // one bar of value 10 on a 0..10 axis: it reaches the top margin, y 48 (a few bars). Width
    // 108.25: a group of 26.25 px, a bar of 21 (80%), drawn 20 wide, its middle at 70 + 2.625 + 10
    expect(label({ values: [10], width: 108.25, value: () => 'abc' })).toEqual(['v', 'middle', 'x=82.6 y=45.0', 'abc']);
    // 'abc' is 18 px: drawn 19 wide is too narrow, the label turns upward from 4 px above the bar
    // top, 3.5 px right of the bar's middle (70 + 2.5 + 9.5 + 3.5)
    expect(label({ values: [10], width: 107, value: () => 'abc' })).toEqual(['v', 'start', 'translate(85.5,44.0) rotate(-90)', 'abc']);
  });

  it('test_rotated_labels_inside_a_tall_bar_only_when_they_would_reach_the_title', () => {
    // 17 bars (more than 16: a top margin of 34) 10 px apart, drawn 7 wide: every label turns
    // upward. The axis goes 0..8, 26 px a unit: a bar of 8 ends at y 34, of 6 at 86, of 4.25 at 131.5.
    // The title ends at y 24; a label is w = 6 px a character.
    const chart = (v: number, text: string) =>
      label({ values: [8, v, ...Array(15).fill(0)], width: 252, value: (x) => (x === 8 && v !== 8 ? 'x' : text) }, v === 8 ? 0 : 1);
    // 1 character on the bar of 8: 34 - 4 - 6 = 24, not above the title's end: outside, at 30
    expect(chart(8, 'a')).toEqual(['v', 'start', 'translate(78.0,30.0) rotate(-90)', 'a']);
    // 2 characters: 34 - 4 - 12 = 18 would reach the title, and the bar (208 px) holds 12 + 6:
    // inside, end-anchored 4 px below the bar top
    expect(chart(8, 'ab')).toEqual(['v in', 'end', 'translate(78.0,38.0) rotate(-90)', 'ab']);
    // 25 characters (150 px) on the bar of 6 (156 px tall, exactly 150 + 6): inside
    expect(chart(6, 'c'.repeat(25))).toEqual(['v in', 'end', 'translate(88.0,90.0) rotate(-90)', 'c'.repeat(25)]);
    // 18 characters (108 px) on the bar of 4.25 (110.5 px tall, less than 108 + 6): too short to
    // hold it, so above, though it reaches the title
    expect(chart(4.25, 'd'.repeat(18))).toEqual(['v', 'start', 'translate(88.0,127.5) rotate(-90)', 'd'.repeat(18)]);
  });

  it('test_top_margin_48_for_16_bars_or_fewer', () => {
    const topTick = (cats: number, series: number) => {
      const els = elements(
        barChart({
          title: 't',
          categories: Array.from({ length: cats }, (_, k) => `c${k}`),
          series: Array.from({ length: series }, (_, k) => ({ name: `s${k}`, values: Array(cats).fill(10) })),
          xLabel: 'x',
          yLabel: 'y',
        }),
      );
      return els.filter((e) => e.attrs.class === 'g').at(-1)!.attrs.y1;
    };
    expect([topTick(16, 1), topTick(8, 2), topTick(17, 1), topTick(9, 2)]).toEqual(['48.0', '48.0', '34.0', '34.0']);
  });

  it('test_bar_heights_at_the_edges', () => {
    const bars = (values: number[]) =>
      elements(barChart({ title: 't', categories: values.map(String), series: [{ name: 's', values }], xLabel: 'x', yLabel: 'y' }))
        .filter((e) => e.tag === 'rect' && e.attrs.class === 'm')
        .map((e) => [e.attrs.y, e.attrs.height]);
    // a value too small to see is drawn 1 px tall; zero and NaN are not drawn (0 px at the axis)
    expect(bars([1000, 1, 0, Number.NaN])).toEqual([
      ['48.0', '194.0'],
      ['241.0', '1.0'],
      ['242.0', '0.0'],
      ['242.0', '0.0'],
    ]);
  });

  it('test_no_stray_text_between_elements', () => {
    // every character of a chart is inside an element: strip the texts and tags, nothing is left
    const svg = barChart({
      title: 't',
      categories: ['a', 'b'],
      series: [
        { name: 's', values: [1, 2] },
        { name: 'u', values: [3, 0] },
      ],
      xLabel: 'x',
      yLabel: 'y',
    });
    expect(
      svg.startsWith(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 300" width="560" height="300" role="img"><text x="280" y="18"',
      ),
    ).toBe(true);
    expect(svg.replace(/<(text|title)\b[^>]*>[^<]*<\/\1>/g, '').replace(/<[^>]+>/g, '')).toBe('');
    const line = lineChart({
      title: 't',
      x: [1, 2],
      xLabel: 'x',
      series: [
        { name: 's', values: [1, 2] },
        { name: 'u', values: [2, 1] },
      ],
      yLabel: 'y',
    });
    expect(line.replace(/<(text|title)\b[^>]*>[^<]*<\/\1>/g, '').replace(/<[^>]+>/g, '')).toBe('');
  });
});
