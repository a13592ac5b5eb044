// Progress bars on stderr, only for a human at a terminal: never with --json, never when stderr is
// not a TTY (pipes, CI, tests), never with --no-progress.

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
