// Progress bars: on stderr only when it is a terminal, never with --json. `script` gives the CLI a
// pseudo-terminal; the pipes of the other tests already check that nothing appears without one.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers.js';

const SCRIPT = '/usr/bin/script';

function underTty(args: string): string {
  const log = join(mkdtempSync(join(tmpdir(), 'vfio-sim-tty-')), 'tty.log');
  // stdout goes to /dev/null, so the log holds what the CLI wrote to the terminal's stderr
  const r = spawnSync(SCRIPT, ['-qec', `${process.execPath} ${CLI} ${args} >/dev/null`, log], { encoding: 'utf8' });
  expect(r.status, `${r.stderr}\n${readFileSync(log, "utf8")}`).toBe(0);
  return readFileSync(log, 'utf8');
}

describe('progress', () => {
  it.skipIf(!existsSync(SCRIPT))('test_progress_on_tty_only_without_json', () => {
    const args = 'sweep --guest 2G --driver reference --dma none --tlb-sync-max 1,512';
    const tty = underTty(args);
    expect(tty).toMatch(/cases \[[^\]]*\] 0\/2/);
    expect(tty).toMatch(/cases \[[^\]]*\] 2\/2 tlb-sync-max=/);
    const json = underTty(`${args} --json`);
    expect(json).not.toMatch(/cases \[/);
    const off = underTty(`${args} --no-progress`);
    expect(off).not.toMatch(/cases \[/);
  });

  it.skipIf(!existsSync(SCRIPT))('test_single_run_counts_its_ops_on_tty', () => {
    // a single case has no case bar; its executor reports every 256 lines and the first report is drawn
    const args = 'run --guest 1G --workload churn --churn-ops 3000 --dma none';
    const tty = underTty(args);
    expect(tty).toMatch(/\rmainline: 256 ioctls and DMAs done, \d+\.\d s/);
    expect(tty).not.toMatch(/cases \[/);
    // the line is erased when the run ends
    expect(tty).toMatch(/\r\x1b\[K/);
    expect(underTty(`${args} --json`)).not.toMatch(/ioctls and DMAs done/);
    expect(underTty(`${args} --no-progress`)).not.toMatch(/ioctls and DMAs done/);
  });
});
