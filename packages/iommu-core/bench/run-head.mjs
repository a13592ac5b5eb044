// pnpm bench (iommu-core): ns/op for the core API on the reference driver, side by side with a
// "re-walk from the root per page" walker written here as the baseline, plus table bytes per page.
// Never part of CI's pass/fail. Goals: 256x4K map/unmap within 2.5x of a C radix walker doing the
// same stores in the same run (bench/walker.c), >= 5x faster than the re-walk baseline, <= 9 table
// bytes/page.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReferenceDriver, createSim, iommuMap, iommuUnmap, SZ_1G, SZ_2M, SZ_4K } from '../dist/index.js';
import { P9 as P9_FROZEN, PT_ENTRY_EMPTY, PT_ENTRY_TABLE, PtState } from '../dist/internals.js';

const RW = 3;

// bench/walker.c built with the system cc into a temporary directory and run with the same round
// count; null when there is no compiler (the JS figures still print).
function cWalker(pages, rounds) {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-core-bench-'));
  try {
    const exe = join(dir, 'walker');
    const src = fileURLToPath(new URL('./walker.c', import.meta.url));
    const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, src], { encoding: 'utf8' });
    if (cc.status !== 0) return null;
    const run = spawnSync(exe, [String(pages), String(rounds)], { encoding: 'utf8' });
    return run.status === 0 ? JSON.parse(run.stdout) : null;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const sim = createSim({ memory: 16n << 30n, seed: 1 });
const drv = createReferenceDriver(sim, { pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G });
const dom = drv.domainAlloc();
const INNER = 64; // ranges per timed sample (timer resolution)
const base = (k) => 0x100000 + k * 1024; // 4 MiB apart, all under one level-1 table... and beyond

// A fixed number of rounds per case; each round times only `op` over `inner` ranges with
// setup/teardown outside the timed window, and the case reports the median round (ns per op).
// (tinybench's time budget counts only the timed part, which made untimed setup dominate.)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
// rounds run and discarded first: the JIT settles the first case late, so it gets as many as the rest
const WARMUP = 100;
const ns = {};
function phase(_bench, name, setup, op, teardown, inner = INNER) {
  const samples = [];
  for (let r = 0; r < ROUNDS + WARMUP; r++) {
    for (let k = 0; k < inner; k++) setup(k);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < inner; k++) op(k);
    const t1 = process.hrtime.bigint();
    for (let k = 0; k < inner; k++) teardown(k);
    if (r >= WARMUP) samples.push(Number(t1 - t0) / inner);
  }
  samples.sort((a, b) => a - b);
  ns[name] = samples[samples.length >> 1];
}

// The baseline: map n 4K pages one PTE at a time, walking from the root each time (the pre-iommupt
// pattern), on the same format and arena.
// The export is frozen (no module state a caller could change), and V8 11 loads a frozen array's
// elements through its generic keyed-load IC (~70 instructions, counted with callgrind): the
// baseline walks with a plain copy, as the engine's own walks use plain or typed arrays.
const P9 = Array.from(P9_FROZEN);
const fmt = dom.pt.fmt,
  tables = sim.mem.tables,
  st = new PtState();
function rewalkMap(iova, pfn, n) {
  for (let i = 0; i < n; i++, iova++, pfn++) {
    let t = dom.pt.root;
    for (let l = dom.pt.top; l > 0; l--) {
      const words = tables.words(t),
        w = tables.wordOffset(t) + 2 * (Math.floor(iova / P9[l]) & 511);
      const type = (words[w] | words[w + 1]) === 0 ? PT_ENTRY_EMPTY : fmt.load(words, w, l, st);
      if (type === PT_ENTRY_TABLE) {
        t = st.pfn;
        continue;
      }
      const c = sim.mem.allocTable();
      fmt.installTable(words, w, l, c);
      t = c;
    }
    const words = tables.words(t),
      w = tables.wordOffset(t) + 2 * (iova & 511);
    fmt.installLeaves(words, w, 0, pfn, 12, RW, 1);
    sim.mem.reach4k.add(pfn, 1);
  }
}
function rewalkUnmap(iova, n) {
  for (let i = 0; i < n; i++, iova++) {
    let t = dom.pt.root;
    for (let l = dom.pt.top; l > 0; l--) {
      const words = tables.words(t),
        w = tables.wordOffset(t) + 2 * (Math.floor(iova / P9[l]) & 511);
      fmt.load(words, w, l, st);
      t = st.pfn;
    }
    const words = tables.words(t),
      w = tables.wordOffset(t) + 2 * (iova & 511);
    fmt.load(words, w, 0, st);
    words[w] = 0;
    words[w + 1] = 0;
    sim.mem.reach4k.add(st.pfn, -1);
  }
}

const pfn4k = sim.mem.allocFrames(INNER * 1024);
const pfn2m = sim.mem.allocFrames(512 * INNER, { align: 512 });
const pfn1g = sim.mem.allocFrames(262144, { align: 262144 });
// warm the tables so both walkers measure PTE work, not table allocation
for (let k = 0; k < INNER; k++) {
  iommuMap(dom, base(k), pfn4k + 1, 1, RW);
  iommuUnmap(dom, base(k), 1);
}

const bench = null;
phase(
  bench,
  'map 4K (one page, one call)',
  () => {},
  (k) => iommuMap(dom, base(k), pfn4k + k, 1, RW),
  (k) => iommuUnmap(dom, base(k), 1),
);
phase(
  bench,
  'unmap 4K (one page, synced)',
  (k) => iommuMap(dom, base(k), pfn4k + k, 1, RW),
  (k) => iommuUnmap(dom, base(k), 1),
  () => {},
);
phase(
  bench,
  'map 256x4K in one call',
  () => {},
  (k) => iommuMap(dom, base(k), pfn4k + 1 + k * 1024, 256, RW),
  (k) => iommuUnmap(dom, base(k), 256),
);
phase(
  bench,
  'unmap 256x4K in one call',
  (k) => iommuMap(dom, base(k), pfn4k + 1 + k * 1024, 256, RW),
  (k) => iommuUnmap(dom, base(k), 256),
  () => {},
);
phase(
  bench,
  'map 256x4K, re-walk per page (baseline)',
  () => {},
  (k) => rewalkMap(base(k), pfn4k + 1 + k * 1024, 256),
  (k) => iommuUnmap(dom, base(k), 256),
);
phase(
  bench,
  'unmap 256x4K, re-walk per page (baseline)',
  (k) => iommuMap(dom, base(k), pfn4k + 1 + k * 1024, 256, RW),
  (k) => rewalkUnmap(base(k), 256),
  () => {},
);
phase(
  bench,
  'map 2M page',
  () => {},
  (k) => iommuMap(dom, base(k), pfn2m + 512 * k, 512, RW),
  (k) => iommuUnmap(dom, base(k), 512),
);
phase(
  bench,
  'unmap 2M page',
  (k) => iommuMap(dom, base(k), pfn2m + 512 * k, 512, RW),
  (k) => iommuUnmap(dom, base(k), 512),
  () => {},
);
// machine check, not a target: the bare per-page work of a 4K map (an emptiness check, two int32
// PTE stores and a reach-byte increment) for 256 pages, in plain JS on typed arrays. The batch's
// ratio to it says how much the API and engine add; the absolute figure says how fast this VM is
// today (the C walker's 381 ns came from an i7-12700).
const bareW = new Int32Array(INNER * 1024),
  bareR = new Int8Array(INNER * 256);
function bare256(k) {
  const w0 = k * 1024,
    r0 = k * 256;
  for (let i = 0; i < 256; i++) {
    const w = w0 + 2 * i;
    if ((bareW[w] | bareW[w + 1]) !== 0) break;
    bareW[w] = (i << 12) | 3;
    bareW[w + 1] = 0;
    const x = bareR[r0 + i];
    if (x < 127) bareR[r0 + i] = x + 1;
  }
}
function bareClear(k) {
  bareW.fill(0, k * 1024, k * 1024 + 512);
  bareR.fill(0, k * 256, k * 256 + 256);
}
phase(bench, 'bare 256-page PTE loop (machine check)', () => {}, bare256, bareClear);
const G = 0x4000000;
phase(
  bench,
  'map 1G page',
  () => {},
  () => iommuMap(dom, G, pfn1g, 262144, RW),
  () => iommuUnmap(dom, G, 262144),
  1,
);
phase(
  bench,
  'unmap 1G page',
  () => iommuMap(dom, G, pfn1g, 262144, RW),
  () => iommuUnmap(dom, G, 262144),
  () => {},
  1,
);

const fix = (x) => x.toFixed(1).padStart(9);
console.log(`\n@x/iommu-core bench  node ${process.version}  ${new Date().toISOString().slice(0, 10)}`);
console.log('operation'.padEnd(44) + 'ns/op');
for (const [k, v] of Object.entries(ns)) console.log(k.padEnd(44) + fix(v));
const r = (a, b) => (ns[b] / ns[a]).toFixed(1);
console.log(
  `\nbatched vs re-walk: map ${r('map 256x4K in one call', 'map 256x4K, re-walk per page (baseline)')}x, unmap ${r('unmap 256x4K in one call', 'unmap 256x4K, re-walk per page (baseline)')}x  (target >= 5x)`,
);
const c = cWalker(256, ROUNDS);
if (c === null) console.log('C walker: skipped (no cc on PATH, or it failed to build)');
else {
  console.log(`C radix walker, same run (bench/walker.c): map 256x4K ${c.map_ns.toFixed(1)} ns, unmap ${c.unmap_ns.toFixed(1)} ns`);
  console.log(
    `JS / C: map ${(ns['map 256x4K in one call'] / c.map_ns).toFixed(2)}x, unmap ${(ns['unmap 256x4K in one call'] / c.unmap_ns).toFixed(2)}x  (goal <= 2.5x)`,
  );
}
console.log(
  `machine check: map 256x4K = ${r('bare 256-page PTE loop (machine check)', 'map 256x4K in one call')}x the bare PTE loop (${ns['bare 256-page PTE loop (machine check)'].toFixed(0)} ns here)`,
);

// table bytes per mapped 4K page: 4 GiB of scattered 4K leaves in a fresh domain
const s2 = createSim({ memory: 8n << 30n, seed: 2 });
const d2 = createReferenceDriver(s2).domainAlloc();
const N = 1 << 20;
for (let i = 0; i < N; i += 512) iommuMap(d2, i, 1 + i, 512, RW);
console.log(
  `page-table bytes per mapped 4K page: ${((s2.mem.tables.inUse * 4096) / N).toFixed(3)} (target <= 9; ${s2.mem.tables.inUse} tables for ${N} pages)`,
);
