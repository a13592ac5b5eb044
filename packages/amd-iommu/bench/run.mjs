// pnpm bench (amd-iommu): ns/op of the core API on the AMD driver (amdv1 table + command ring +
// emulated IOTLB) next to the same work on the core's reference driver, and the cost of a device
// DMA that hits vs misses the IOTLB (wall ns in this process and modeled ns on sim.clock).
// Never part of CI's pass/fail.
import { Bench } from 'tinybench';
import { createReferenceDriver, createSim, iommuMap, iommuUnmap } from '@x/iommu-core';
import { createAmdIommu } from '../dist/index.js';

const RW = 3,
  INNER = 64,
  DEV = 0x0100;
const base = (k) => 0x100000 + k * 1024; // 4 MiB apart
// 2 MiB leaves get their own IOVA: v4.17 refuses a large page where a 4 KiB table was (the quirk)
const base2m = (k) => 0x200000 + k * 1024;

function rig(kind) {
  const sim = createSim({ memory: 16n << 30n, seed: 1 });
  const drv =
    kind === 'ref'
      ? createReferenceDriver(sim, { pgsizeBitmap: ~0xfffn & ((1n << 39n) - 1n) }) // AMD-like sizes, 4K..256G
      : createAmdIommu(sim, { profile: kind });
  const dom = drv.domainAlloc();
  drv.attachDevice(dom, kind === 'ref' ? 1 : DEV);
  const pfn4k = sim.mem.allocFrames(INNER * 1024);
  const pfn2m = sim.mem.allocFrames(512 * INNER, { align: 512 });
  const pfn1g = sim.mem.allocFrames(262144, { align: 262144 });
  // warm the tables so the numbers are PTE work, not table allocation
  for (let k = 0; k < INNER; k++) {
    iommuMap(dom, base(k) + 1, pfn4k + 1, 1, RW);
  }
  for (let k = 0; k < INNER; k++) {
    iommuUnmap(dom, base(k) + 1, 1);
  }
  return { sim, drv, dom, pfn4k, pfn2m, pfn1g, dev: kind === 'ref' ? 1 : DEV };
}

/** Times only `op` over `inner` ranges; setup and teardown run outside the timed window. */
function phase(bench, name, setup, op, teardown, inner = INNER) {
  bench.add(name, () => {
    for (let k = 0; k < inner; k++) setup(k);
    const t0 = bench.now();
    for (let k = 0; k < inner; k++) op(k);
    const t1 = bench.now();
    for (let k = 0; k < inner; k++) teardown(k);
    return { overriddenDuration: (t1 - t0) / inner };
  });
}

const kinds = ['ref', 'v4.17', 'mainline'];
const rows = [
  ['map 4K', (r) => [() => {}, (k) => iommuMap(r.dom, base(k), r.pfn4k + k, 1, RW), (k) => iommuUnmap(r.dom, base(k), 1)]],
  ['unmap 4K (synced)', (r) => [(k) => iommuMap(r.dom, base(k), r.pfn4k + k, 1, RW), (k) => iommuUnmap(r.dom, base(k), 1), () => {}]],
  [
    'map 256x4K',
    (r) => [() => {}, (k) => iommuMap(r.dom, base(k), r.pfn4k + 1 + k * 1024, 256, RW), (k) => iommuUnmap(r.dom, base(k), 256)],
  ],
  [
    'unmap 256x4K',
    (r) => [(k) => iommuMap(r.dom, base(k), r.pfn4k + 1 + k * 1024, 256, RW), (k) => iommuUnmap(r.dom, base(k), 256), () => {}],
  ],
  [
    'map 64K (16 replicas)',
    (r) => [() => {}, (k) => iommuMap(r.dom, base(k), r.pfn4k + k * 1024, 16, RW), (k) => iommuUnmap(r.dom, base(k), 16)],
  ],
  ['unmap 64K', (r) => [(k) => iommuMap(r.dom, base(k), r.pfn4k + k * 1024, 16, RW), (k) => iommuUnmap(r.dom, base(k), 16), () => {}]],
  ['map 2M', (r) => [() => {}, (k) => iommuMap(r.dom, base2m(k), r.pfn2m + 512 * k, 512, RW), (k) => iommuUnmap(r.dom, base2m(k), 512)]],
  ['unmap 2M', (r) => [(k) => iommuMap(r.dom, base2m(k), r.pfn2m + 512 * k, 512, RW), (k) => iommuUnmap(r.dom, base2m(k), 512), () => {}]],
  ['map 1G', (r) => [() => {}, () => iommuMap(r.dom, 0x4000000, r.pfn1g, 262144, RW), () => iommuUnmap(r.dom, 0x4000000, 262144), 1]],
  ['unmap 1G', (r) => [() => iommuMap(r.dom, 0x4000000, r.pfn1g, 262144, RW), () => iommuUnmap(r.dom, 0x4000000, 262144), () => {}, 1]],
];

const results = {};
for (const kind of kinds) {
  const r = rig(kind);
  const bench = new Bench({ time: 1, iterations: 400, warmupTime: 1, warmupIterations: 40 }); // time counts overriddenDuration;
  for (const [name, mk] of rows) {
    const [s, o, t, inner] = mk(r);
    phase(bench, name, s, o, t, inner);
  }
  // DMA of one page: IOTLB hit (entry cached) vs miss (walk; the IOTLB is emptied outside the timed window)
  const hw = kind === 'ref' ? r.drv.iotlb : r.drv.hw.iotlb;
  iommuMap(r.dom, 0x300000, r.pfn4k, INNER, RW);
  phase(
    bench,
    'dma 4K, IOTLB hit',
    (k) => r.drv.dma(r.dev, 0x300000 + k, 1, 'read'),
    (k) => r.drv.dma(r.dev, 0x300000 + k, 1, 'read'),
    () => {},
  );
  phase(
    bench,
    'dma 4K, IOTLB miss (walk)',
    () => hw.flushAll(),
    (k) => r.drv.dma(r.dev, 0x300000 + k, 1, 'read'),
    () => {},
  );
  await bench.run();
  for (const t of bench.tasks) if (t.result?.latency === undefined) throw t.result?.error ?? new Error('no result for ' + t.name);
  results[kind] = Object.fromEntries(bench.tasks.map((t) => [t.name, t.result.latency.mean * 1e6]));
  // modeled cost on sim.clock for one DMA page, hit vs miss
  hw.flushAll();
  let t0 = r.sim.clock.now;
  r.drv.dma(r.dev, 0x300000, 1, 'read');
  const miss = r.sim.clock.now - t0;
  t0 = r.sim.clock.now;
  r.drv.dma(r.dev, 0x300000, 1, 'read');
  const hit = r.sim.clock.now - t0;
  results[kind]['modeled ns: dma miss / hit'] = `${miss} / ${hit}`;
}

const names = Object.keys(results.ref);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'operation'.padEnd(28)}${pad('ref', 12)}${pad('amd v4.17', 12)}${pad('amd mainline', 14)}${pad('mainline/ref', 14)}`);
for (const n of names) {
  const v = kinds.map((k) => results[k][n]);
  const f = (x) => (typeof x === 'number' ? x.toFixed(1) : x);
  const ratio = typeof v[0] === 'number' ? (v[2] / v[0]).toFixed(2) + 'x' : '';
  console.log(`${n.padEnd(28)}${pad(f(v[0]), 12)}${pad(f(v[1]), 12)}${pad(f(v[2]), 14)}${pad(ratio, 14)}`);
}
console.log('(ns/op wall time in this process; the last row is modeled time on sim.clock)');
