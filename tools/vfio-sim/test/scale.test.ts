// Regression guard for issue 8 (scale): the bench:scale case of the default scenario at 64 GiB
// (THP, AMD-Vi, v4.16), run as the bench runs it (a fresh child process), must give exactly these
// counters and stay within 24 bytes of memory per mapped 4 KiB page. Wall time is never asserted.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PKG } from './helpers.js';

interface Row {
  wallS: number; pages: number; bytesPerPageRss: number; bytesPerPageModel: number;
  counters: Record<string, number>;
}

function benchCase(size: string, backing: string): Row {
  const r = spawnSync(process.execPath, ['--expose-gc', join(PKG, 'bench', 'scale.mjs'), '--case', size, backing], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench case ${size} ${backing}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
}

describe('bench:scale regression guard', () => {
  it('test_64g_thp_counters_exact_and_bytes_per_page_within_target', () => {
    const row = benchCase('64G', 'thp');
    expect(row.counters).toEqual({
      pteWrites: 33_312, pteClears: 33_247, tableAllocs: 66, tableFrees: 0, tablesAfterBoot: 66,
      iotlbSyncs: 65, invalidations: 66, completionWaits: 66, pins: 16_777_184, unpins: 16_777_184,
      regions: 32_769, violations: 0, ioctlErrors: 0, modeledNs: row.counters.modeledNs,
    });
    expect(row.counters.modeledNs).toBeCloseTo(3_533_166_778.2, 0);
    expect(row.pages).toBe(16_777_184);
    // typed-array bytes of the model (deterministic) and the process's RSS growth, against the target
    expect(row.bytesPerPageModel).toBeLessThanOrEqual(24);
    expect(row.bytesPerPageRss).toBeLessThanOrEqual(24);
    console.log(`bench:scale 64G thp: ${row.wallS.toFixed(2)} s wall (not asserted), ${row.bytesPerPageRss.toFixed(2)} B/page RSS, ${row.bytesPerPageModel.toFixed(2)} B/page model`);
  }, 60_000);
});
