// TraceWriter and assembleTrace on their own: the exact lines a case writes (metadata, one thread per
// track in order of first use, B/E/i/C events with the modeled time in microseconds), a part file
// without the brackets, the cut at a share of --trace-max, a file that cannot be opened, and an
// abort that removes what was written.

import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceWriter, assembleTrace } from '../src/report/perfetto.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-tw-'));
const CLOSE = (detail: string, cut = '') =>
  `\n],"displayTimeUnit":"ns","metadata":{"clock":"modeled time (us)","iova":"bytes (0x hex)","detail":"${detail}","generator":"vfio-sim"${cut}}}\n`;

/** The metadata lines of case 'c' (pid 1) with one track, 'qemu'. */
const META =
  '{"name":"process_name","ph":"M","ts":0,"pid":1,"tid":0,"args":{"name":"c"}},\n' +
  '{"name":"process_sort_index","ph":"M","ts":0,"pid":1,"tid":0,"args":{"sort_index":1}},\n' +
  '{"name":"thread_name","ph":"M","ts":0,"pid":1,"tid":1,"args":{"name":"qemu"}},\n' +
  '{"name":"thread_sort_index","ph":"M","ts":0,"pid":1,"tid":1,"args":{"sort_index":1}}';

/** This process's open descriptors on `path` (/proc/self/fd). */
function openOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      /* closed while listing */
    }
  }
  return n;
}

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
    const bytes = assembleTrace(out, parts, 'ioctl', ['c1', 'c2']);
    const text = readFileSync(out, 'utf8');
    expect(bytes).toBe(Buffer.byteLength(text));
    // the cases cut at --trace-max, named in the metadata
    expect(text.endsWith(CLOSE('ioctl', ',"cut":"at --trace-max: c1, c2"'))).toBe(true);
    const t = JSON.parse(text) as { traceEvents: { pid: number; name: string }[] };
    expect(t.traceEvents.filter((e) => e.name === 'boot').map((e) => e.pid)).toEqual([1, 2]);
    expect(t.traceEvents.length).toBe(2 * 5);
    // the parts are gone
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
    // and no descriptor is left on them
    expect(parts.map((f) => openOn(f) + openOn(`${f} (deleted)`))).toEqual([0, 0]);
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

  it('test_chunks_reach_the_file_as_they_fill', () => {
    // events go out in 1 MiB chunks: the file holds nothing until the buffer first reaches 1 MiB,
    // then exactly the lines up to the one that filled it
    const file = join(dir, 'chunks.json');
    const w = new TraceWriter({ file, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    const pad = 'x'.repeat(1000);
    const ev = (i: number) => `,\n{"name":"${pad}","ph":"B","ts":${i},"pid":1,"tid":1,"cat":"qemu"}`;
    let want = `{"traceEvents":[\n${META}`;
    let flushedAt = -1;
    for (let i = 0; flushedAt < 0; i++) {
      w.write({ ph: 'B', name: pad, ts: i * 1000, track: 'qemu' });
      want += ev(i);
      if (want.length >= 1 << 20) flushedAt = want.length;
      else expect(statSync(file).size).toBe(0);
    }
    expect(statSync(file).size).toBe(flushedAt);
    expect(readFileSync(file, 'utf8')).toBe(want);
    w.write({ ph: 'B', name: pad, ts: 0, track: 'qemu' });
    expect(statSync(file).size).toBe(flushedAt);
    const info = w.close();
    expect(info.bytes).toBe(statSync(file).size);
    expect(readFileSync(file, 'utf8')).toBe(`${want}${ev(0)}${CLOSE('ioctl')}`);
  });

  it('test_a_failed_write_stops_the_case', () => {
    // /dev/full takes the open and refuses the first chunk (ENOSPC): tracing stops once, later
    // events are not counted, and close() neither writes nor closes again
    let stopped = 0;
    const w = new TraceWriter({ file: '/dev/full', standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => stopped++);
    const pad = 'y'.repeat(4096);
    let n = 0;
    while (stopped === 0) {
      w.write({ ph: 'B', name: pad, ts: n, track: 'qemu' });
      n++;
    }
    // the four metadata lines and the n events, the last of which filled the chunk
    let size = '{"traceEvents":[\n'.length + META.length,
      want = 0;
    while (size < 1 << 20) size += `,\n{"name":"${pad}","ph":"B","ts":${want++ / 1000},"pid":1,"tid":1,"cat":"qemu"}`.length;
    expect(n).toBe(want);
    w.write({ ph: 'B', name: pad, ts: 0, track: 'qemu' });
    expect(w.close()).toEqual({ file: '/dev/full', events: n + 4, bytes: 0, error: 'ENOSPC', cut: false });
    expect(stopped).toBe(1);
    // a write that fails only at close(), the buffer's first flush: the same report, no throw
    let stoppedAtClose = 0;
    const small = new TraceWriter({ file: '/dev/full', standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => stoppedAtClose++);
    small.write({ ph: 'B', name: 'x', ts: 0, track: 'qemu' });
    expect(stoppedAtClose).toBe(0);
    expect(small.close()).toEqual({ file: '/dev/full', events: 5, bytes: 0, error: 'ENOSPC', cut: false });
    expect(stoppedAtClose).toBe(1);
  });

  it('test_abort_keeps_what_is_not_a_regular_file', () => {
    // a FIFO given as the trace file (its reading end held open here, so the writer's open does not
    // wait) is closed by an abort, not removed
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const w = new TraceWriter({ file: fifo, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
      w.abort();
      expect(statSync(fifo).isFIFO()).toBe(true);
    } finally {
      closeSync(reader);
    }
  });

  it('test_large_parts_joined_in_chunks', () => {
    // parts larger than the 4 MiB read buffer are copied whole, in order
    const a = join(dir, 'big-a.part'),
      b = join(dir, 'big-b.part');
    const bodyA = `"${'a'.repeat(5 * (1 << 20))}"`,
      bodyB = `"${'b'.repeat(1 << 20)}"`;
    writeFileSync(a, bodyA);
    writeFileSync(b, bodyB);
    const out = join(dir, 'big.json');
    const want = `{"traceEvents":[\n${bodyA},\n${bodyB}${CLOSE('all')}`;
    expect(assembleTrace(out, [a, b], 'all')).toBe(want.length);
    expect(readFileSync(out, 'utf8')).toBe(want);
    expect([existsSync(a), existsSync(b)]).toEqual([false, false]);
  });

  it('test_join_failure_throws_and_removes_the_parts', () => {
    const p = join(dir, 'lost.part');
    writeFileSync(p, '{}');
    expect(() => assembleTrace('/dev/full', [p], 'ioctl')).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(existsSync(p)).toBe(false);
  });

  it('test_descriptors_closed_and_nothing_after_the_end', () => {
    const file = join(dir, 'fds.json');
    const w = new TraceWriter({ file, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    expect(openOn(file)).toBe(1);
    w.write({ ph: 'B', name: 'x', ts: 0, track: 'qemu' });
    const info = w.close();
    expect(openOn(file)).toBe(0);
    // a closed writer takes no more events, and closing again changes nothing
    w.write({ ph: 'B', name: 'y', ts: 1, track: 'qemu' });
    expect(w.events).toBe(5);
    const text = readFileSync(file, 'utf8');
    expect(w.close()).toEqual(info);
    expect(readFileSync(file, 'utf8')).toBe(text);
    // an abort closes the file before removing it, and takes no more events
    const gone = join(dir, 'fds-gone.json');
    const a = new TraceWriter({ file: gone, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    expect(openOn(gone)).toBe(1);
    a.abort();
    expect(openOn(`${gone} (deleted)`) + openOn(gone)).toBe(0);
    a.write({ ph: 'B', name: 'y', ts: 1, track: 'qemu' });
    expect(a.events).toBe(2);
    // a writer that could not open its file aborts quietly
    const bad = new TraceWriter({ file: join(dir, 'no', 'x.json'), standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    expect(() => bad.abort()).not.toThrow();
    // a failed write closes the file at once
    const before = openOn('/dev/full');
    let stopped = 0;
    const full = new TraceWriter({ file: '/dev/full', standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => stopped++);
    expect(openOn('/dev/full')).toBe(before + 1);
    while (stopped === 0) full.write({ ph: 'B', name: 'z'.repeat(4096), ts: 0, track: 'qemu' });
    expect(openOn('/dev/full')).toBe(before);
  });

  it('test_cut_at_the_exact_share', () => {
    // a line fits when the bytes so far, the line and its separator come to the share less 512
    const ev = '{"name":"e","ph":"B","ts":0,"pid":1,"tid":1,"cat":"qemu"}';
    const exact = 512 + '{"traceEvents":[\n'.length + META.length + 2 + ev.length;
    const eventsAt = (maxBytes: number) => {
      const w = new TraceWriter({ file: join(dir, 'exact.json'), standalone: true, pid: 1, detail: 1, maxBytes }, 'c', 'ioctl', () => {});
      w.write({ ph: 'B', name: 'e', ts: 0, track: 'qemu' });
      w.write({ ph: 'B', name: 'e', ts: 0, track: 'qemu' });
      return w.close().events;
    };
    // the four metadata lines and one event; a byte less and the event is cut
    expect([eventsAt(exact), eventsAt(exact - 1)]).toEqual([5, 4]);
  });

  it('test_a_chunk_of_exactly_1_mib_goes_out', () => {
    // events whose lines bring the buffer to exactly 1 MiB: it is written at once
    const file = join(dir, 'mib.json');
    const w = new TraceWriter({ file, standalone: true, pid: 1, detail: 1 }, 'c', 'ioctl', () => {});
    const line = (name: string) => `,\n{"name":"${name}","ph":"B","ts":0,"pid":1,"tid":1,"cat":"qemu"}`;
    let left = (1 << 20) - '{"traceEvents":[\n'.length - META.length;
    const name = 'n'.repeat(1000);
    while (left > 2 * line(name).length) {
      w.write({ ph: 'B', name, ts: 0, track: 'qemu' });
      left -= line(name).length;
    }
    expect(statSync(file).size).toBe(0);
    // the last one fills the rest exactly
    const last = 'm'.repeat(left - line('').length);
    expect(line(last).length).toBe(left);
    w.write({ ph: 'B', name: last, ts: 0, track: 'qemu' });
    expect(statSync(file).size).toBe(1 << 20);
    w.close();
  });
});
