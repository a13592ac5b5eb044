// --trace FILE: Chrome/Perfetto trace-event JSON (the "JSON Object Format" ui.perfetto.dev and
// chrome://tracing open), written as the run goes: each case streams its events to the file (one
// case) or to a part file that is appended to the file once every case is done (several cases, on
// worker threads), in 1 MiB chunks, so no trace is ever held in memory. Each case is a process,
// each tracer track (qemu, vfio, iommu, memory, ...) a thread; B/E become slices, i instants, C
// counters. Timestamps are the modeled clock in microseconds; IOVAs are bytes in 0x hex.

import { closeSync, fstatSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { TraceEvent } from '@x/iommu-core';

export interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  s?: 't';
  args?: Record<string, unknown>;
  cat?: string;
}

/** What a case's trace is: where it goes, its process id in the file, how much detail. Plain data (crosses threads). */
export interface TraceSpec {
  /** The file this case writes: the --trace file itself, or a part file. */
  readonly file: string;
  /** Whether `file` is the whole trace (one case: opening and closing brackets too) or a part. */
  readonly standalone: boolean;
  /** Process id of the case in the trace (its column: 1, 2, ...). */
  readonly pid: number;
  /** TRACE_IOCTL .. TRACE_ALL (@x/iommu-core). */
  readonly detail: number;
  /**
   * The bytes this case may write, its share of --trace-max (absent: no limit). The size is only
   * estimated before the run, and an estimate can be low (a release whose driver maps page by page
   * where the estimate counts huge pages): the tracing stops at the share, so a trace never fills
   * the disk past --trace-max.
   */
  readonly maxBytes?: number;
}

/** What a case wrote. `error`: why a write failed (the run went on without tracing); null when all went out. */
export interface TraceInfo {
  readonly file: string;
  readonly events: number;
  readonly bytes: number;
  readonly error: string | null;
  /** The tracing stopped at spec.maxBytes: the file holds the events before that point. */
  readonly cut: boolean;
}

export const TRACE_DETAILS = ['ioctl', 'iommu', 'all'] as const;
export type TraceDetail = (typeof TRACE_DETAILS)[number];

const CHUNK = 1 << 20;
const OPEN = '{"traceEvents":[\n';
/** The closing part: the array, then the display unit and what the clock is (and which cases were cut at --trace-max). */
function traceClose(detail: TraceDetail, cut: readonly string[]): string {
  const c = cut.length === 0 ? '' : `,"cut":${JSON.stringify(`at --trace-max: ${cut.join(', ')}`)}`;
  return `\n],"displayTimeUnit":"ns","metadata":{"clock":"modeled time (us)","iova":"bytes (0x hex)","detail":"${detail}","generator":"vfio-sim"${c}}}\n`;
}
/** Room kept in a case's share for the closing part (a standalone file) and a last separator. */
const CLOSE_ROOM = 512;

/** Appends one case's events to a file as they come, a chunk at a time. */
export class TraceWriter {
  events = 0;
  bytes = 0;
  error: string | null = null;
  /** Stopped at spec.maxBytes. */
  cut = false;
  private fd = -1;
  private buf = '';
  private first = true;
  private readonly tids = new Map<string, number>();

  /** The event bytes this case may write (its share less room for the closing part). */
  private readonly budget: number;

  /** `label`: the case's name (its process name); `detail` names the level in the file's metadata; `onError` stops the tracing (a write failed, or the case used up its share of --trace-max). */
  constructor(
    readonly spec: TraceSpec,
    private readonly label: string,
    private readonly detail: TraceDetail,
    private readonly onError: () => void,
  ) {
    this.budget = (spec.maxBytes ?? Infinity) - CLOSE_ROOM;
    try {
      this.fd = openSync(spec.file, 'w');
    } catch (e) {
      this.fail(e);
      return;
    }
    if (spec.standalone) this.raw(OPEN);
    this.meta('process_name', 0, { name: label });
    this.meta('process_sort_index', 0, { sort_index: spec.pid });
  }

  /** The tracer's sink: one event. */
  write(e: TraceEvent): void {
    if (this.fd < 0 || this.cut) return;
    let tid = this.tids.get(e.track);
    if (tid === undefined) {
      tid = this.tids.size + 1;
      this.tids.set(e.track, tid);
      this.meta('thread_name', tid, { name: e.track });
      this.meta('thread_sort_index', tid, { sort_index: tid });
    }
    const args = e.args === undefined ? '' : `,"args":${JSON.stringify(e.args)}`;
    this.line(
      `{"name":${JSON.stringify(e.name)},"ph":"${e.ph}","ts":${e.ts / 1000},"pid":${this.spec.pid},"tid":${tid},"cat":"${e.track}"${e.ph === 'i' ? ',"s":"t"' : ''}${args}}`,
    );
  }

  /** Flushes and closes; a standalone file gets its closing part. */
  close(): TraceInfo {
    if (this.fd >= 0) {
      if (this.spec.standalone) this.raw(traceClose(this.detail, this.cut ? [this.label] : []));
      this.flush();
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
    }
    return { file: this.spec.file, events: this.events, bytes: this.bytes, error: this.error, cut: this.cut };
  }

  /** The case failed (a usage error mid-run): close, and remove what it wrote if it is a file of ours. */
  abort(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    removeIfFile(this.spec.file);
  }

  private meta(name: string, tid: number, args: Record<string, unknown>): void {
    this.line(`{"name":"${name}","ph":"M","ts":0,"pid":${this.spec.pid},"tid":${tid},"args":${JSON.stringify(args)}}`);
  }

  private line(json: string): void {
    // characters for bytes: the events are ASCII but for names a replay file gives, and the
    // share keeps CLOSE_ROOM spare
    if (this.bytes + this.buf.length + json.length + 2 > this.budget) {
      this.cut = true;
      this.onError();
      return;
    }
    this.events++;
    this.raw(this.first ? json : `,\n${json}`);
    this.first = false;
  }

  private raw(s: string): void {
    this.buf += s;
    if (this.buf.length >= CHUNK) this.flush();
  }

  // Called with a descriptor open, or after fail() with nothing buffered (then it writes nothing).
  private flush(): void {
    try {
      const b = Buffer.from(this.buf);
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
      this.bytes += b.length;
    } catch (e) {
      this.fail(e);
    }
    this.buf = '';
  }

  private fail(e: unknown): void {
    this.error = (e as NodeJS.ErrnoException).code ?? String(e);
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* already failing */
      }
    }
    this.fd = -1;
    this.onError();
  }
}

/** Deletes `file` when it is a regular file (never /dev/full and the like). */
export function removeIfFile(file: string): void {
  try {
    if (statSync(file).isFile()) unlinkSync(file);
  } catch {
    /* gone already */
  }
}

/**
 * Joins the cases' part files into the trace file, in case order, a chunk at a time, and deletes
 * them. Returns the bytes written; throws the write's error (ENOSPC, ...).
 */
export function assembleTrace(file: string, parts: readonly string[], detail: TraceDetail, cut: readonly string[] = []): number {
  const out = openSync(file, 'w');
  const buf = Buffer.allocUnsafe(4 * CHUNK);
  let bytes = 0;
  const put = (b: Buffer, n: number): void => {
    let off = 0;
    while (off < n) off += writeSync(out, b, off, n - off);
    bytes += n;
  };
  try {
    put(Buffer.from(OPEN), OPEN.length);
    parts.forEach((p, i) => {
      if (i > 0) put(Buffer.from(',\n'), 2);
      const fd = openSync(p, 'r');
      try {
        const size = fstatSync(fd).size;
        for (let pos = 0; pos < size; ) {
          const n = readSync(fd, buf, 0, buf.length, pos);
          if (n === 0) break;
          put(buf, n);
          pos += n;
        }
      } finally {
        closeSync(fd);
      }
    });
    const tail = Buffer.from(traceClose(detail, cut));
    put(tail, tail.length);
  } finally {
    closeSync(out);
    for (const p of parts) removeIfFile(p);
  }
  return bytes;
}
