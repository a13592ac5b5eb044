// TraceWriter and assembleTrace on their own: the exact lines a case writes (metadata, one thread per
// track in order of first use, B/E/i/C events with the modeled time in microseconds), a part file
// without the brackets, the cut at a share of --trace-max, a file that cannot be opened, and an
// abort that removes what was written.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceWriter, assembleTrace } from '../src/report/perfetto.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-tw-'));
const CLOSE = (detail: string, cut = '') =>
  `\n],"displayTimeUnit":"ns","metadata":{"clock":"modeled time (us)","iova":"bytes (0x hex)","detail":"${detail}","generator":"vfio-sim"${cut}}}\n`;

describe('trace writer', () => {
  it('test_standalone_file_line_by_line', () => {
    const file = join(dir, 'a.json');
    let stopped = 0;
    const w = new TraceWriter({ file, standalone: true, pid: 3, detail: 2 }, 'v4.17 "x"', 'iommu', () => stopped++);
    w.write({ ph: 'B', name: 'MAP', ts: 1500, track: 'qemu', args: { iova: '0x0' } });
    w.write({ ph: 'B', name: 'map_pages', ts: 1750.5, track: 'iommu' });
    w.write({ ph: 'E', name: 'map_pages', ts: 2000, track: 'iommu', args: undefined });
    w.write({ ph: 'i', name: 'fault', ts: 2500, track: 'qemu', args: { n: 1, ok: false } });
    w.write({ ph: 'C', name: 'pinned pages', ts: 3000, track: 'memory', args: { pages: 4 } });
    const info = w.close();
    const lines = [
      '{"name":"process_name","ph":"M","ts":0,"pid":3,"tid":0,"args":{"name":"v4.17 \\"x\\""}}',
      '{"name":"process_sort_index","ph":"M","ts":0,"pid":3,"tid":0,"args":{"sort_index":3}}',
      '{"name":"thread_name","ph":"M","ts":0,"pid":3,"tid":1,"args":{"name":"qemu"}}',
      '{"name":"thread_sort_index","ph":"M","ts":0,"pid":3,"tid":1,"args":{"sort_index":1}}',
      '{"name":"MAP","ph":"B","ts":1.5,"pid":3,"tid":1,"cat":"qemu","args":{"iova":"0x0"}}',
      '{"name":"thread_name","ph":"M","ts":0,"pid":3,"tid":2,"args":{"name":"iommu"}}',
      '{"name":"thread_sort_index","ph":"M","ts":0,"pid":3,"tid":2,"args":{"sort_index":2}}',
      '{"name":"map_pages","ph":"B","ts":1.7505,"pid":3,"tid":2,"cat":"iommu"}',
      '{"name":"map_pages","ph":"E","ts":2,"pid":3,"tid":2,"cat":"iommu"}',
      '{"name":"fault","ph":"i","ts":2.5,"pid":3,"tid":1,"cat":"qemu","s":"t","args":{"n":1,"ok":false}}',
      '{"name":"thread_name","ph":"M","ts":0,"pid":3,"tid":3,"args":{"name":"memory"}}',
      '{"name":"thread_sort_index","ph":"M","ts":0,"pid":3,"tid":3,"args":{"sort_index":3}}',
      '{"name":"pinned pages","ph":"C","ts":3,"pid":3,"tid":3,"cat":"memory","args":{"pages":4}}',
    ];
    const text = `{"traceEvents":[\n${lines.join(',\n')}${CLOSE('iommu')}`;
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(info).toEqual({ file, events: lines.length, bytes: Buffer.byteLength(text), error: null, cut: false });
    expect(stopped).toBe(0);
    JSON.parse(text);
  });

  it('test_part_files_joined_in_order', () => {
    const parts = [1, 2].map((pid) => {
      const w = new TraceWriter({ file: join(dir, `p${pid}.part`), standalone: false, pid, detail: 1 }, `c${pid}`, 'ioctl', () => {});
      w.write({ ph: 'B', name: 'boot', ts: 1000 * pid, track: 'qemu' });
      const info = w.close();
      // a part has no brackets: its lines only
      expect(readFileSync(info.file, 'utf8').startsWith('{"name":"process_name"')).toBe(true);
      expect(readFileSync(info.file, 'utf8').endsWith(`"ts":${pid},"pid":${pid},"tid":1,"cat":"qemu"}`)).toBe(true);
      return info.file;
    });
    const out = join(dir, 'joined.json');
    const bytes = assembleTrace(out, parts, 'ioctl', ['c2']);
    const text = readFileSync(out, 'utf8');
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(text.endsWith(CLOSE('ioctl', ',"cut":"at --trace-max: c2"'))).toBe(true);
    const t = JSON.parse(text) as { traceEvents: { pid: number; name: string }[] };
    expect(t.traceEvents.filter((e) => e.name === 'boot').map((e) => e.pid)).toEqual([1, 2]);
    expect(t.traceEvents.length).toBe(2 * 5);
    // the parts are gone
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('test_cut_at_the_share', () => {
    const file = join(dir, 'cut.json');
    let stopped = 0;
    // 512 bytes stay for the closing part: 1100 - 512 leaves room for the two metadata lines and a few events
    const w = new TraceWriter({ file, standalone: true, pid: 1, detail: 3, maxBytes: 1100 }, 'c', 'all', () => stopped++);
    for (let i = 0; i < 20; i++) w.write({ ph: 'B', name: 'e', ts: i * 1000, track: 'qemu' });
    const info = w.close();
    const text = readFileSync(file, 'utf8');
    expect(stopped).toBe(1);
    expect(info.cut).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1100);
    const t = JSON.parse(text) as { traceEvents: unknown[]; metadata: { cut: string } };
    expect(t.metadata.cut).toBe('at --trace-max: c');
    expect(t.traceEvents.length).toBe(info.events);
    // the writing stopped before the line that would not fit: the opening, the lines so far and one
    // more would be over 1100 - 512
    const body = text.slice(0, text.indexOf('\n],'));
    const next = ',\n{"name":"e","ph":"B","ts":99,"pid":1,"tid":1,"cat":"qemu"}';
    expect(body.length).toBeLessThanOrEqual(1100 - 512);
    expect(body.length + next.length).toBeGreaterThan(1100 - 512);
  });

  it('test_open_failure_and_abort', () => {
    let stopped = 0;
    const bad = new TraceWriter(
      { file: join(dir, 'no', 'such', 'dir.json'), standalone: true, pid: 1, detail: 1 },
      'c',
      'ioctl',
      () => stopped++,
    );
    bad.write({ ph: 'B', name: 'x', ts: 0, track: 'qemu' });
    expect(stopped).toBe(1);
    expect(bad.close()).toEqual({ file: join(dir, 'no', 'such', 'dir.json'), events: 0, bytes: 0, error: 'ENOENT', cut: false });
    const file = join(dir, 'gone.json');
    const w = new TraceWriter({ file, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    w.write({ ph: 'B', name: 'x', ts: 0, track: 'qemu' });
    w.abort();
    expect(readdirSync(dir)).not.toContain('gone.json');
  });
});
