// Progress on stderr, only for a human at a terminal: never with --json, never when stderr is not a
// TTY (pipes, CI, tests), never with --no-progress. Several cases get a bar of finished cases; a
// single case a line of the pages it has mapped and unmapped and the ioctls and DMAs it has done,
// against its totals, with an estimate of the time left.

import cliProgress from 'cli-progress';
import type { ProgressSink } from './engine/progress-meter.js';

export interface Progress {
  update(done: number, label?: string): void;
  stop(): void;
}

const NONE: Progress = { update() {}, stop() {} };

export function progressBar(total: number, what: string, opts: { json?: boolean; progress?: boolean }): Progress {
  if (opts.json || opts.progress === false || !process.stderr.isTTY) return NONE;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${what} [{bar}] {value}/{total} {label}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    update(done, label) {
      bar.update(done, { label: label ?? '' });
    },
    stop() {
      bar.stop();
    },
  };
}

/** `4.2 s`, `2 min 05 s`, `1 h 02 min`. */
function secs(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * One case's line (`mainline: 45%, pages 1.91M/4.19M, ioctls+DMAs 2/6, 1.1 s, ETA 1.3 s`): pages
 * mapped or unmapped (reported from inside long ioctls too) and ioctls and DMAs done, each against the case's total, the time so far and an estimate of the time left (from
 * the share done, an ioctl or DMA counting as a page), redrawn at most 10 times a second and erased
 * at the end. `sink` is undefined when nothing is shown, so the run adds no hooks.
 */
export function caseProgress(what: string, opts: { json?: boolean; progress?: boolean }): { sink: ProgressSink | undefined; stop(): void } {
  if (opts.json || opts.progress === false || !process.stderr.isTTY) return { sink: undefined, stop() {} };
  const t0 = Date.now();
  let last = -Infinity,
    shown = false,
    pagesTotal = 0,
    opsTotal = 0;
  // short enough for an 80-column terminal (a wrapped line would not redraw in place)
  const num = (n: number): string =>
    n < 1e4 ? String(n) : n < 1e6 ? `${(n / 1e3).toFixed(1)}k` : n < 1e9 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e9).toFixed(2)}G`;
  const sink: ProgressSink = {
    start(total) {
      pagesTotal = total.pages;
      opsTotal = total.ops;
    },
    update(pages, ops) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      const f = (pages + ops) / Math.max(1, pagesTotal + opsTotal);
      const elapsed = (now - t0) / 1000;
      // the rate so far says how long the rest takes; too early to tell under 1% or 0.5 s
      const eta = f >= 0.01 && elapsed >= 0.5 ? `ETA ${secs((elapsed * (1 - f)) / f)}` : 'ETA ...';
      process.stderr.write(
        `\r${what}: ${Math.min(99, Math.floor(f * 100))}%, pages ${num(pages)}/${num(pagesTotal)}, ioctls+DMAs ${num(ops)}/${num(opsTotal)}, ${secs(elapsed)}, ${eta}\x1b[K`,
      );
    },
  };
  return {
    sink,
    stop() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
