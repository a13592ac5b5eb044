// Progress on stderr, only for a human at a terminal: never with --json, never when stderr is not a
// TTY (pipes, CI, tests), never with --no-progress. Several cases get a bar of finished cases; a
// single case a line of the ioctls and DMAs it has done (its length is not known in advance).

import cliProgress from 'cli-progress';

export interface Progress { update(done: number, label?: string): void; stop(): void }

const NONE: Progress = { update() {}, stop() {} };

export function progressBar(total: number, what: string, opts: { json?: boolean; progress?: boolean }): Progress {
  if (opts.json || opts.progress === false || !process.stderr.isTTY) return NONE;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, format: `${what} [{bar}] {value}/{total} {label}`, hideCursor: true, clearOnComplete: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { label: '' });
  return {
    update(done, label) { bar.update(done, { label: label ?? '' }); },
    stop() { bar.stop(); },
  };
}

/** One case's running count of executed lines (ioctls, DMAs, phases), redrawn at most 10 times a second. */
export function opsTicker(what: string, opts: { json?: boolean; progress?: boolean }): Progress {
  if (opts.json || opts.progress === false || !process.stderr.isTTY) return NONE;
  const t0 = Date.now();
  let last = -Infinity, shown = false;
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now; shown = true;
      process.stderr.write(`\r${what}: ${done.toLocaleString('en-US')} ioctls and DMAs done, ${((now - t0) / 1000).toFixed(1)} s`);
    },
    stop() { if (shown) process.stderr.write('\r\x1b[K'); },
  };
}
