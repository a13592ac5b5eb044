// Progress: on stderr only when it is a terminal, never with --json or --no-progress. Several cases
// get a bar of finished cases, a single case a line of pages mapped or unmapped (moving inside a
// long ioctl) and ioctls done against its totals, with an ETA. `script` gives the CLI a
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
  expect(r.status, `${r.stderr}\n${readFileSync(log, 'utf8')}`).toBe(0);
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
    // a single case has no case bar: a line of pages and ioctls against the churn's totals (3000 maps, 3000 unmaps)
    const args = 'run --guest 1G --workload churn --churn-ops 3000 --dma none';
    const tty = underTty(args);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: \x1b[K is the terminal's erase-line escape
    expect(tty).toMatch(/\rmainline: \d+%, pages [\d.]+k?\/[\d.]+k, ioctls\+DMAs \d+\/6000, \d+\.\d s, ETA (\.\.\.|\d+\.\d s)\x1b\[K/);
    expect(tty).not.toMatch(/cases \[/);
    // the line is erased when the run ends
    // biome-ignore lint/suspicious/noControlCharactersInRegex: \x1b[K is the terminal's erase-line escape
    expect(tty).toMatch(/\r\x1b\[K/);
    expect(underTty(`${args} --json`)).not.toMatch(/ioctls\+DMAs/);
    expect(underTty(`${args} --no-progress`)).not.toMatch(/ioctls\+DMAs/);
  });

  it.skipIf(!existsSync(SCRIPT))('test_single_run_progress_inside_a_long_ioctl', () => {
    // 8 GiB on 4 KiB pages without firmware: 3 MAP_DMA and 3 UNMAP_DMA, the largest 6 GiB (1.5 M pages in one
    // ioctl). Progress moves inside it: several lines with the same ioctls done and more pages each time
    // a fully fragmented host (--host-age 1): the pin and unpin hooks report every 1024 chunks, one per page here
    const tty = underTty('run --guest 8G --backing 4k --host-age 1 --firmware none --dma none');
    const lines = [
      ...tty.matchAll(/\rmainline: (\d+)%, pages ([\d.]+)(k|M)?\/4\.19M, ioctls\+DMAs (\d)\/6, ([\d.]+) s, ETA (\.\.\.|[\d.]+ s)/g),
    ].map((m) => ({
      pct: Number(m[1]),
      pages: Number(m[2]) * (m[3] === 'M' ? 1e6 : m[3] === 'k' ? 1e3 : 1),
      ops: Number(m[4]),
      eta: m[6]!,
    }));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const inside = lines.filter((l, i) => i > 0 && l.ops === lines[i - 1]!.ops && l.pages > lines[i - 1]!.pages);
    expect(inside.length).toBeGreaterThanOrEqual(1);
    // percent and pages never go back; an ETA once the run is under way
    for (let i = 1; i < lines.length; i++) {
      expect(lines[i]!.pages).toBeGreaterThanOrEqual(lines[i - 1]!.pages);
      expect(lines[i]!.pct).toBeGreaterThanOrEqual(lines[i - 1]!.pct);
    }
    expect(lines.some((l) => /^[\d.]+ s$/.test(l.eta))).toBe(true);
  });

  it.skipIf(!existsSync(SCRIPT))('test_single_replay_and_compare_case_show_the_line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-tty-rec-'));
    const rec = join(dir, 'r.jsonl');
    underTty(`run --guest 4G --backing 4k --firmware none --dma none --record ${rec} --no-progress`);
    expect(underTty(`replay ${rec}`)).toMatch(/\rmainline: \d+%, pages [\d.]+[kM]?\/2\.10M, ioctls\+DMAs \d\/6, /);
    const cmp = underTty('compare --guest 4G --backing 4k --firmware none --dma none --profile v4.17');
    expect(cmp).toMatch(/\rv4\.17: \d+%, pages /);
    expect(cmp).not.toMatch(/cases \[/);
  });
});
