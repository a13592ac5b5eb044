// pnpm bench (vfio-type1): MAP_DMA + UNMAP_DMA of 1 GiB, THP-backed and 4K-backed, under the slow
// (v4.16), fast (v4.17) and mainline unmap paths on the reference driver. Prints wall-clock ns per
// map+unmap, the modeled time the sim charges for it, IOTLB syncs per op, and ratios against slow.
// Never part of CI's pass/fail.
import { Bench } from 'tinybench';
import { createReferenceDriver, createSim } from '@x/iommu-core';
import { Host, VFIO_TYPE1v2_IOMMU } from '../dist/index.js';

const GiB = 1n << 30n;
const PATHS = [
  ['slow', 'v4.16'],
  ['fast', 'v4.17'],
  ['mainline', 'mainline'],
];
const BACKINGS = ['thp', '4k'];

/** One machine + container per task, set up outside the timed function. */
function setup(profile, backing) {
  const sim = createSim({ memory: 4n * GiB, seed: 1 });
  // the release's reference driver, deferring its flushes to the sync in every release (as AMD's
  // v4.17 ops do; VT-d flushed inside ->unmap until v5.11), so the three VFIO paths are what differs
  const drv = createReferenceDriver(sim, { release: profile, flushOnUnmap: false });
  const host = new Host(sim);
  const g = host.addGroup(drv, { devices: 1 });
  const proc = host.spawn({});
  const vaddr = proc.mmap(GiB, { backing });
  const c = host.openContainer(proc, { profile });
  c.addGroup(g);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  return { sim, c, vaddr };
}

const bench = new Bench({ time: 0, iterations: process.env.BENCH_ITER ? Number(process.env.BENCH_ITER) : 5, warmupIterations: 1 });
const model = {};
for (const backing of BACKINGS) {
  for (const [path, profile] of PATHS) {
    const name = `${backing} ${path}`;
    const env = setup(profile, backing);
    const op = () => {
      env.c.mapDma({ vaddr: env.vaddr, iova: 0n, size: GiB, flags: 3 });
      env.c.unmapDma({ iova: 0n, size: GiB });
    };
    // one untimed op to record the modeled cost and counters of a map+unmap
    const t0 = env.sim.clock.now,
      s0 = env.sim.counters;
    op();
    const s1 = env.sim.counters;
    model[name] = {
      modelNs: env.sim.clock.now - t0,
      syncs: s1.iotlbSyncs - s0.iotlbSyncs,
      pages: s1.pins - s0.pins,
      regions: env.c.stats().unmapChunks,
      violations: env.sim.violations.length,
    };
    bench.add(name, op);
  }
}

await bench.run();
for (const t of bench.tasks)
  if (t.result.state !== 'completed') {
    console.error(t.name, t.result.state, t.result.error);
    process.exit(1);
  }
const ns = Object.fromEntries(bench.tasks.map((t) => [t.name, t.result.latency.mean * 1e6]));
const f = (x, w = 14) => String(x).padStart(w);
console.log(`\n@x/vfio-type1 bench  node ${process.version}  ${new Date().toISOString().slice(0, 10)}`);
console.log('MAP_DMA + UNMAP_DMA of 1 GiB on the reference driver (4K|2M|1G), one op = map + unmap');
console.log('backing path'.padEnd(16) + f('wall ns/op') + f('wall ns/page') + f('model ns/op') + f('syncs/op') + f('regions'));
for (const [name, v] of Object.entries(ns)) {
  const m = model[name];
  console.log(name.padEnd(16) + f(v.toFixed(0)) + f((v / m.pages).toFixed(1)) + f(m.modelNs.toFixed(0)) + f(m.syncs) + f(m.regions));
}
console.log('\nratios vs slow (wall | modeled):');
for (const backing of BACKINGS) {
  for (const p of ['fast', 'mainline']) {
    const a = `${backing} slow`,
      b = `${backing} ${p}`;
    console.log(
      `  ${b.padEnd(14)} wall ${(ns[b] / ns[a]).toFixed(2)}x   modeled ${(model[b].modelNs / model[a].modelNs).toFixed(3)}x   syncs ${model[a].syncs} -> ${model[b].syncs}`,
    );
  }
}
const bad = Object.entries(model).filter(([, m]) => m.violations !== 0);
if (bad.length > 0) {
  console.error('safety violations during the bench:', bad);
  process.exit(1);
}
