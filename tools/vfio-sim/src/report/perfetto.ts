// --trace FILE: Chrome/Perfetto trace-event JSON (the "JSON Array/Object Format" ui.perfetto.dev
// and chrome://tracing open). Each case is a process, each tracer track (qemu, vfio, iommu,
// amd-iommu, ...) a thread; B/E become slices, i instants, C counters. Timestamps are the modeled
// clock in microseconds.

import type { TraceEvent } from '@x/iommu-core';

export interface ChromeEvent {
  name: string; ph: string; ts: number; pid: number; tid: number;
  s?: 't'; args?: Record<string, unknown>; cat?: string;
}

export interface TraceCase { readonly label: string; readonly events: readonly TraceEvent[] }

export function toChromeTrace(cases: readonly TraceCase[]): { traceEvents: ChromeEvent[]; displayTimeUnit: 'ns'; metadata: Record<string, string> } {
  const out: ChromeEvent[] = [];
  cases.forEach((c, i) => {
    const pid = i + 1;
    out.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name: c.label } });
    out.push({ name: 'process_sort_index', ph: 'M', ts: 0, pid, tid: 0, args: { sort_index: pid } });
    const tids = new Map<string, number>();
    const tidOf = (track: string): number => {
      let t = tids.get(track);
      if (t === undefined) {
        t = tids.size + 1;
        tids.set(track, t);
        out.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid: t, args: { name: track } });
        out.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid, tid: t, args: { sort_index: t } });
      }
      return t;
    };
    for (const e of c.events) {
      const ev: ChromeEvent = { name: e.name, ph: e.ph, ts: e.ts / 1000, pid, tid: tidOf(e.track), cat: e.track };
      if (e.ph === 'i') ev.s = 't';
      if (e.args !== undefined) ev.args = { ...e.args };
      out.push(ev);
    }
  });
  return { traceEvents: out, displayTimeUnit: 'ns', metadata: { 'clock': 'modeled time (us)', 'generator': 'vfio-sim' } };
}

export function renderTrace(cases: readonly TraceCase[]): string {
  return JSON.stringify(toChromeTrace(cases));
}
