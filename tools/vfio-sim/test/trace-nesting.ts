// The B/E slice nesting check both trace test files read their traces with.
import type { ChromeEvent } from '../src/report/perfetto.js';

/**
 * B/E slices nest per track, time never runs backwards on a track, every IOVA is 0x hex bytes; counts
 * slices by `pid track name`. Fed one event at a time (a streamed file is checked as it is read).
 */
export class NestingCheck {
  readonly slices = new Map<string, number>();
  events = 0;
  private readonly stacks = new Map<string, string[]>();
  private readonly last = new Map<string, number>();
  feed(e: ChromeEvent): void {
    this.events++;
    if (e.ph === 'M') return;
    const k = `${e.pid}/${e.tid}`;
    if (e.ts < (this.last.get(k) ?? 0)) throw new Error(`time runs backwards on ${k}: ${JSON.stringify(e)}`);
    this.last.set(k, e.ts);
    if (e.ph === 'B') {
      const st = this.stacks.get(k) ?? [];
      st.push(e.name);
      this.stacks.set(k, st);
    }
    if (e.ph === 'E') {
      const open = this.stacks.get(k)?.pop();
      if (open !== e.name) throw new Error(`E ${e.name} closes ${String(open)} on ${k}`);
      const n = `${e.pid} ${e.cat} ${e.name}`;
      this.slices.set(n, (this.slices.get(n) ?? 0) + 1);
    }
    for (const key of ['iova', 'start', 'last']) {
      const v = e.args?.[key];
      if (v !== undefined && !(typeof v === 'string' && /^0x[0-9a-f]+$/.test(v)))
        throw new Error(`${key} is not 0x hex bytes: ${JSON.stringify(e)}`);
    }
  }
  /** Nothing left open; the slice counts. */
  finish(): Map<string, number> {
    for (const [k, st] of this.stacks) if (st.length > 0) throw new Error(`open slices on ${k}: ${st.join(', ')}`);
    return this.slices;
  }
}

export function checkNesting(events: Iterable<ChromeEvent>): Map<string, number> {
  const c = new NestingCheck();
  for (const e of events) c.feed(e);
  return c.finish();
}
