// Differential property test: random sequences of container calls (MAP_DMA, UNMAP_DMA, GET_INFO, group
// add/remove, SET_IOMMU, close) and device DMAs, on random process layouts and backings, run against the
// container and against a specification model of type1 (test/spec-model.ts: plain Maps of pages, rules from
// docs/spec.md), compared after every step: return value or errno, bytes written back, which IOVA
// reaches which pfn in every attached domain, pins, locked_vm, dma_avail, device faults and writes, and no
// safety violation. Fixed seeds and a small size in CI; FC_RUNS / FC_MAXLEN (pnpm test:deep) for more.
// Replay a failure with FC_SEED=<seed> FC_PATH=<path> and -t <profile>: fast-check prints the shrunk sequence.
//
// It found two bugs, both fixed with their own regression tests: mainline GET_INFO left the caller's bytes
// in the 4-byte pad after the 12-byte DMA_AVAIL capability (vfio_info_cap_add zeroes the aligned cap), and
// the safety checker counted an MMIO leaf at 2^34 + k as a mapping of RAM frame k (a false
// unpin-while-reachable). Every buffer here starts as 0xee and any violation fails the sequence.
import { appendFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  IOMMU_RESV_DIRECT_RELAXABLE,
  IOMMU_RESV_MSI,
  IOMMU_RESV_RESERVED,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  createReferenceDriver,
  createSim,
  iommuIovaToPhys,
  type IommuDomain,
  type RefDomain,
  type ReferenceDriver,
  type Sim,
} from '@x/iommu-core';
import { Host, type Container, type ContainerOptions, type Group, type MmapBacking, type Process, type Profile } from '../src/index.js';
import { ERRNO_OF, SpecModel, type GroupSpec, type MapArgs, type Res, type UnmapArgs } from './spec-model.js';

/** Sequences over the three profiles, and calls per sequence (pnpm test:deep: 2500 and 900). */
const RUNS = Number(process.env.FC_RUNS ?? 120);
const MAXLEN = Number(process.env.FC_MAXLEN ?? 250);
const SEED = process.env.FC_SEED === undefined ? null : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
/** IOVA pages most calls land in (4 MiB): small enough that overlaps, holes and bisections are common. */
const WINDOW = 1024;
/** Steps between two full sweeps (every leaf of every domain, every device write); touched pages every step. */
const SWEEP_EVERY = 8;
/** The reference driver's aperture: 48 bits (VT-d-like), IOVA pages [0, 2^36 - 1]. */
const APERTURE_LAST = 2 ** 36 - 1;
/** A reserved region driver B may report inside the window (5.4+ carves it out of the iova list). */
const RESV_B = { start: 0x180, last: 0x1bf, type: IOMMU_RESV_RESERVED };
const MSI_X86 = { start: 0xfee00, last: 0xfeeff, type: IOMMU_RESV_MSI };
const BITMAP_A = SZ_4K | SZ_2M | SZ_1G;
const AMD_LIKE = ~0xfffn & ((1n << 39n) - 1n);
/** ioctl numbers, _IO(';', 100 + n) on x86 (spec §1.1). */
const GET_INFO = 0x3b70,
  MAP_DMA = 0x3b71,
  UNMAP_DMA = 0x3b72;
const PROFILES: readonly Profile[] = ['v4.16', 'v4.17', 'mainline'];
const hx = (v: bigint | number): string => `0x${v.toString(16)}`;

// ---- the random input: an environment and a list of calls ----------------------------------------

interface VmaSpec {
  backing: MmapBacking;
  pages: number;
}
interface EnvSpec {
  seed: number;
  v2: boolean;
  vmas: VmaSpec[];
  /** RLIMIT_MEMLOCK in pages (null: unlimited); odd adds 0x800 bytes the limit rounds away. */
  memlock: number | null;
  memlockOdd: boolean;
  capIpcLock: boolean;
  dmaEntryLimit: number | null;
  disableHugepages: boolean;
  tlbSyncMax: number | null;
  bitmapB: bigint;
  resvB: boolean;
  devsB: number;
}

const vmaArb: fc.Arbitrary<VmaSpec> = fc.oneof(
  fc.record({ backing: fc.constant('4k'), pages: fc.integer({ min: 16, max: 768 }) }),
  fc.record({ backing: fc.constant('thp'), pages: fc.constantFrom(512, 700, 1024) }),
  fc.record({ backing: fc.constant('hugetlb-2m'), pages: fc.constantFrom(512, 1024) }),
  fc.record({ backing: fc.constant('fragmented:0.5'), pages: fc.integer({ min: 64, max: 1024 }) }),
  fc.record({ backing: fc.constant('mmio'), pages: fc.integer({ min: 16, max: 512 }) }),
);
const rarely = (n: number): fc.Arbitrary<boolean> => fc.integer({ min: 0, max: n - 1 }).map((x) => x === 0);
const envArb: fc.Arbitrary<EnvSpec> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  v2: fc.boolean(),
  vmas: fc.array(vmaArb, { minLength: 2, maxLength: 5 }),
  memlock: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 1536 }) }),
  memlockOdd: rarely(4),
  capIpcLock: rarely(6),
  dmaEntryLimit: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 6 }) }),
  disableHugepages: rarely(6),
  tlbSyncMax: fc.constantFrom(null, null, 1, 2, 7),
  bitmapB: fc.constantFrom(SZ_4K | SZ_2M, AMD_LIKE, SZ_4K),
  resvB: fc.boolean(),
  devsB: fc.integer({ min: 1, max: 2 }),
});

type Op =
  /** vma 0..4: that VMA (mod count), 5: a hole below the first VMA, 6: the top of the address space. */
  | {
      k: 'map';
      vma: number;
      voff: number;
      vmis: number;
      iova: number;
      imis: number;
      pages: number;
      smis: number;
      flags: number;
      argsz: number | null;
    }
  | { k: 'unmap'; iova: number; imis: number; pages: number; smis: number; flags: number; argsz: number | null }
  /** Unmap the span of existing dmas from the pick-th on, its ends moved by `cut` (bisections, holes). */
  | { k: 'unmapDmas'; pick: number; span: number; cut: number; argsz: number | null }
  | { k: 'info'; argsz: number | 'need' }
  /** Device DMA; pick !== null: inside the pick-th dma, else anywhere in the window. */
  | { k: 'dma'; g: number; dev: number; pick: number | null; off: number; n: number; write: boolean }
  | { k: 'addGroup'; g: number }
  | { k: 'removeGroup'; g: number }
  | { k: 'setIommu'; type: number }
  | { k: 'checkExtension'; ext: number }
  | { k: 'close' };

const opStr = (o: Op): string => {
  const raw = (a: number | null) => (a === null ? '' : `, raw argsz=${a}`);
  const size = (p: number, m: number) => (p < 0 ? '2^63' : hx(p * 4096 + m));
  switch (o.k) {
    case 'map': {
      const v = o.vma <= 4 ? `vma${o.vma}+${hx(o.voff)}p` : o.vma === 5 ? `hole-${(o.voff % 64) + 1}p` : `top-${(o.voff % 8) + 1}p`;
      return `map(vaddr=${v}${o.vmis ? `+${hx(o.vmis)}` : ''}, iova=${hx(o.iova)}p${o.imis ? `+${hx(o.imis)}` : ''}, size=${size(o.pages, o.smis)}, flags=${o.flags}${raw(o.argsz)})`;
    }
    case 'unmap':
      return `unmap(iova=${hx(o.iova)}p${o.imis ? `+${hx(o.imis)}` : ''}, size=${size(o.pages, o.smis)}, flags=${o.flags}${raw(o.argsz)})`;
    case 'unmapDmas':
      return `unmapDmas(pick=${o.pick}, span=${o.span}, cut=${o.cut}${raw(o.argsz)})`;
    case 'info':
      return `info(argsz=${o.argsz})`;
    case 'dma':
      return `dma(g${o.g}.dev${o.dev}, ${o.pick === null ? `iova=${hx(o.off)}p` : `dma#${o.pick}+${o.off}p`}, n=${o.n}, ${o.write ? 'write' : 'read'})`;
    case 'addGroup':
      return `addGroup(g${o.g})`;
    case 'removeGroup':
      return `removeGroup(g${o.g})`;
    case 'setIommu':
      return `setIommu(${o.type})`;
    case 'checkExtension':
      return `checkExtension(${o.ext})`;
    case 'close':
      return 'close()';
  }
};
/** fast-check prints a counterexample's ops through this (fc.toStringMethod). */
const printable = (o: Op): Op => Object.assign(o, { [fc.toStringMethod]: () => opStr(o) });

/** A page number aligned to 2^a pages, a in 0..9, inside [0, max). */
const alignedPage = (max: number) =>
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.nat()).map(([a, r]) => (r % Math.max(1, Math.floor(max / 2 ** a))) * 2 ** a);
/** IOVA page: mostly the window; sometimes the x86 MSI window, the aperture end or the top of the u64 space. */
const iovaArb = fc.oneof(
  { weight: 24, arbitrary: alignedPage(WINDOW) },
  { weight: 1, arbitrary: fc.integer({ min: 0xfee00 - 300, max: 0xfeeff + 50 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }).map((k) => APERTURE_LAST + 1 - k) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((k) => 2 ** 52 - k) },
);
/** Size in pages: 0 and -1 (2^63 bytes) are the odd ones. */
const pagesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 16 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom(64, 128, 256, 512, 1024) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1) },
);
const misArb = (v: number) => fc.oneof({ weight: 25, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(v) });
const argszArb = (size: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constant(size) },
    { weight: 1, arbitrary: fc.constantFrom(size - 8, size + 16) },
  );
const opArb: fc.Arbitrary<Op> = fc
  .oneof(
    {
      weight: 30,
      arbitrary: fc.record({
        k: fc.constant('map' as const),
        vma: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(5, 6) }),
        voff: alignedPage(1088),
        vmis: misArb(0x10),
        iova: iovaArb,
        imis: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(0x800, 0x10) }),
        pages: pagesArb,
        smis: misArb(0x800),
        flags: fc.oneof(
          { weight: 24, arbitrary: fc.constant(3) },
          { weight: 6, arbitrary: fc.constantFrom(1, 2) },
          { weight: 1, arbitrary: fc.constantFrom(0, 4, 8, 7) },
        ),
        argsz: argszArb(32),
      }),
    },
    {
      weight: 14,
      arbitrary: fc
        .record({
          k: fc.constant('unmap' as const),
          iova: iovaArb,
          imis: misArb(0x800),
          pages: pagesArb,
          smis: misArb(0x800),
          flags: fc.oneof(
            { weight: 24, arbitrary: fc.constant(0) },
            { weight: 2, arbitrary: fc.constant(2) },
            { weight: 1, arbitrary: fc.constantFrom(1, 3, 0x10) },
          ),
          argsz: argszArb(24),
        })
        .map((o) => (o.flags === 2 && o.pages % 3 !== 0 ? { ...o, iova: 0, imis: 0, pages: 0, smis: 0 } : o)),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        k: fc.constant('unmapDmas' as const),
        pick: fc.nat(),
        span: fc.integer({ min: 1, max: 3 }),
        cut: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
        argsz: argszArb(24),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        k: fc.constant('info' as const),
        argsz: fc.constantFrom<number | 'need'>('need', 'need', 15, 16, 20, 24, 87, 512),
      }),
    },
    {
      weight: 12,
      arbitrary: fc.record({
        k: fc.constant('dma' as const),
        g: fc.constantFrom(0, 0, 0, 0, 1, 2),
        dev: fc.nat({ max: 1 }),
        pick: fc.option(fc.nat(), { freq: 3 }),
        off: fc.nat({ max: WINDOW - 1 }),
        n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 64 })),
        write: fc.boolean(),
      }),
    },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('addGroup' as const), g: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('removeGroup' as const), g: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('setIommu' as const), type: fc.constantFrom(1, 3, 3, 2) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('checkExtension' as const), ext: fc.constantFrom(0, 1, 2, 3, 4, 6, 9, 10) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const) }) },
  )
  .map(printable);

// ---- one sequence: the container and the model side by side ---------------------------------------

interface VmaLive {
  start: number;
  pages: number;
  pfns: Float64Array;
  mmio: boolean;
}
interface World {
  profile: Profile;
  env: EnvSpec;
  sim: Sim;
  host: Host;
  proc: Process;
  opts: ContainerOptions;
  c: Container;
  groups: Group[];
  drvs: ReferenceDriver[];
  specs: GroupSpec[];
  vmas: VmaLive[];
  m: SpecModel;
  /** Concrete calls so far, for the divergence report. */
  log: string[];
  step: number;
  /** sim.violations already looked at. */
  seen: number;
}

/** DIFF_STATS=1: print how often each call ended with each result (what the random sequences reach). */
const STATS = process.env.DIFF_STATS === '1';
const outcomes = new Map<string, number>();
let sequences = 0,
  operations = 0,
  deviceDmas = 0,
  latitude = 0,
  divergences = 0;
afterAll(() => {
  // pnpm test:deep sums these lines (tools/test-deep/run.mjs)
  if (process.env.DEEP_REPORT)
    appendFileSync(
      process.env.DEEP_REPORT,
      `${JSON.stringify({ suite: 'vfio-type1-vs-spec-model', sequences, operations, divergences })}\n`,
    );
  if (STATS)
    console.log(
      [...outcomes]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join('\n'),
    );
  console.log(
    `differential vfio-type1 vs spec model: ${sequences} sequences, ${operations} operations (container calls; plus ${deviceDmas} device DMAs; ${latitude} 4.x v1 unmaps resolved by the tree-order latitude), ${divergences} divergences`,
  );
});

class Divergence extends Error {
  override name = 'Divergence';
}

function fail(w: World, what: string): never {
  throw new Divergence(
    `${w.profile} step ${w.step}: ${what}\n  calls (last 16 of ${w.log.length}):\n    ${w.log.slice(-16).join('\n    ')}`,
  );
}

const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `${hx(v)}n` : v);
/** Exact comparison; on a mismatch, vitest's diff inside the divergence report. */
function eq(w: World, what: string, got: unknown, want: unknown): void {
  if (isDeepStrictEqual(got, want)) return;
  if (got instanceof Uint8Array && want instanceof Uint8Array) {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    let i = 0;
    while (i < Math.min(got.length, want.length) && got[i] === want[i]) i++;
    fail(w, `${what}: bytes differ from offset ${i}\n    got  ${hex(got)}\n    want ${hex(want)}`);
  }
  let diff = `got ${JSON.stringify(got, big)}, want ${JSON.stringify(want, big)}`;
  try {
    expect(got).toEqual(want);
  } catch (e) {
    diff = (e as Error).message;
  }
  fail(w, `${what}: ${diff}`);
}

function build(profile: Profile, env: EnvSpec): World {
  const sim = createSim({ memory: 256n << 20n, seed: env.seed });
  // both drivers report the sizes they keep (realPgsizeBitmap) in every release: the spec model's
  // drivers do; VT-d's pre-5.15 report-everything-and-split is tested on its own (iommu-core timeline)
  const drvA = createReferenceDriver(sim, { release: profile, pgsizeBitmap: BITMAP_A, resvRegions: [MSI_X86], realPgsizeBitmap: true });
  const drvB = createReferenceDriver(sim, {
    release: profile,
    name: 'refB',
    pgsizeBitmap: env.bitmapB,
    resvRegions: env.resvB ? [MSI_X86, RESV_B] : [MSI_X86],
    realPgsizeBitmap: true,
  });
  const host = new Host(sim);
  const groups = [host.addGroup(drvA), host.addGroup(drvA), host.addGroup(drvB, { devices: env.devsB })];
  const drvs = [drvA, drvA, drvB];
  const specs: GroupSpec[] = groups.map((g, i) => ({
    id: i,
    driver: i < 2 ? 'A' : 'B',
    pgsizeBitmap: i < 2 ? BITMAP_A : env.bitmapB,
    apertureLast: APERTURE_LAST,
    // what the driver reports for the group's device (input): every type but DIRECT_RELAXABLE carves
    resv: drvs[i]!.resvRegions(g.devices[0]!)
      .filter((r) => r.type !== IOMMU_RESV_DIRECT_RELAXABLE)
      .map((r) => ({ start: r.start, last: r.last })),
    devices: g.devices,
  }));
  const memlockLimit = env.memlock === null ? null : (BigInt(env.memlock) << 12n) + (env.memlockOdd ? 0x800n : 0n);
  const proc = host.spawn({ memlockLimit, capIpcLock: env.capIpcLock });
  const vmas: VmaLive[] = env.vmas.map((s) => {
    const start = Number(proc.mmap(BigInt(s.pages) << 12n, { backing: s.backing }) >> 12n);
    const vma = proc.findVma(start)!;
    const pfns = new Float64Array(s.pages);
    for (let i = 0; i < s.pages; i++) pfns[i] = vma.pfnAt(i);
    return { start, pages: s.pages, pfns, mmio: vma.mmio };
  });
  const vmaOf = (vp: number): VmaLive | null => vmas.find((v) => v.start <= vp && vp < v.start + v.pages) ?? null;
  const m = new SpecModel(
    {
      era: profile === 'mainline' ? 'main' : 'v4',
      dmaEntryLimit: env.dmaEntryLimit ?? 65535,
      memlockPages: env.memlock === null ? Infinity : env.memlock,
      capIpcLock: env.capIpcLock,
      disableHugepages: env.disableHugepages,
    },
    {
      pfnOf: (vp) => {
        const v = vmaOf(vp);
        return v === null ? -1 : v.pfns[vp - v.start]!;
      },
      reservedOf: (vp) => vmaOf(vp)?.mmio ?? false,
    },
  );
  const opts: ContainerOptions = { profile };
  if (profile === 'mainline' && env.dmaEntryLimit !== null) opts.dmaEntryLimit = env.dmaEntryLimit;
  if (env.disableHugepages) opts.disableHugepages = true;
  if (env.tlbSyncMax !== null) opts.tlbSyncMax = env.tlbSyncMax;
  const c = host.openContainer(proc, opts);
  return { profile, env, sim, host, proc, opts, c, groups, drvs, specs, vmas, m, log: [], step: 0, seen: 0 };
}

type Got<T> = { ok: T } | { err: { name: string; code: string; errno: number; syscall: string } } | { crash: string };
function capture<T>(f: () => T): Got<T> {
  try {
    return { ok: f() };
  } catch (e) {
    const x = e as { name?: string; code?: string; errno?: number; syscall?: string; message?: string };
    if (x.name === 'VfioError') return { err: { name: x.name, code: x.code!, errno: x.errno!, syscall: x.syscall! } };
    return { crash: `${x.name}: ${x.message}` };
  }
}
function expectRes(w: World, syscall: string, got: Got<unknown>, want: Res<unknown>): void {
  if (STATS) {
    const key = `${w.profile} ${syscall.replace(/^VFIO_(IOMMU_)?/, '')} ${'ok' in want ? 'ok' : want.err}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  const exp = 'ok' in want ? { ok: want.ok } : { err: { name: 'VfioError', code: want.err, errno: ERRNO_OF[want.err], syscall } };
  eq(w, `${syscall} result`, got, exp);
}

function encodeMap(a: MapArgs): Uint8Array {
  const b = new Uint8Array(32),
    v = new DataView(b.buffer);
  v.setUint32(0, a.argsz, true);
  v.setUint32(4, a.flags, true);
  v.setBigUint64(8, a.vaddr, true);
  v.setBigUint64(16, a.iova, true);
  v.setBigUint64(24, a.size, true);
  return b;
}
function encodeUnmap(a: UnmapArgs): Uint8Array {
  const b = new Uint8Array(24),
    v = new DataView(b.buffer);
  v.setUint32(0, a.argsz, true);
  v.setUint32(4, a.flags, true);
  v.setBigUint64(8, a.iova, true);
  v.setBigUint64(16, a.size, true);
  return b;
}

const bytesOf = (pages: number, mis: number): bigint => (pages < 0 ? 1n << 63n : (BigInt(pages) << 12n) + BigInt(mis));

function resolveMap(w: World, o: Extract<Op, { k: 'map' }>): MapArgs {
  let vpage: bigint;
  if (o.vma <= 4) {
    const v = w.vmas[o.vma % w.vmas.length]!;
    vpage = BigInt(v.start + (o.voff % (v.pages + 32)));
  } else if (o.vma === 5) vpage = BigInt(w.vmas[0]!.start - (o.voff % 64) - 1);
  else vpage = (1n << 52n) - BigInt((o.voff % 8) + 1);
  return {
    argsz: o.argsz ?? 32,
    flags: o.flags,
    vaddr: (vpage << 12n) + BigInt(o.vmis),
    iova: (BigInt(o.iova) << 12n) + BigInt(o.imis),
    size: bytesOf(o.pages, o.smis),
  };
}

/** IOVA page ranges [lo, n] whose translation this step may have changed (bounded; the sweep covers the rest). */
type Touched = [number, number][];
const CAP = 2048;

function doMap(w: World, o: Extract<Op, { k: 'map' }>, touched: Touched): void {
  const a = resolveMap(w, o);
  w.log.push(
    `${o.argsz === null ? 'mapDma' : 'ioctl(MAP_DMA)'}({ argsz: ${a.argsz}, flags: ${a.flags}, vaddr: ${hx(a.vaddr)}n, iova: ${hx(a.iova)}n, size: ${hx(a.size)}n })`,
  );
  const want = w.m.map(a);
  let got: Got<number>;
  if (o.argsz === null)
    got = capture(() => {
      w.c.mapDma({ flags: a.flags, vaddr: a.vaddr, iova: a.iova, size: a.size });
      return 0;
    });
  else {
    const buf = encodeMap(a);
    got = capture(() => w.c.ioctl(MAP_DMA, buf));
    eq(w, 'MAP_DMA struct after the call (nothing is written back)', buf, encodeMap(a));
  }
  expectRes(w, 'VFIO_IOMMU_MAP_DMA', got, want);
  const n = a.size >> 12n;
  if (n > 0n && n <= BigInt(CAP)) touched.push([Number(a.iova >> 12n), Number(n)]);
}

function doUnmap(w: World, a: UnmapArgs, raw: boolean, touched: Touched): void {
  w.log.push(
    `${raw ? 'ioctl(UNMAP_DMA)' : 'unmapDma'}({ argsz: ${a.argsz}, flags: ${a.flags}, iova: ${hx(a.iova)}n, size: ${hx(a.size)}n })`,
  );
  const before = w.m.sortedDmas();
  // the container first: only a 4.x v1 unmap starting inside a dma reads back which candidates it removed
  const buf = encodeUnmap(a);
  const got: Got<unknown> = raw
    ? capture(() => w.c.ioctl(UNMAP_DMA, buf))
    : capture(() => w.c.unmapDma({ flags: a.flags, iova: a.iova, size: a.size }));
  const want = w.m.unmap(a, (cands) => {
    latitude++;
    const left = new Set(w.c.mappings().map((x) => Number(x.iova >> 12n)));
    return cands.filter((d) => !left.has(d.iova));
  });
  if (raw) {
    expectRes(w, 'VFIO_IOMMU_UNMAP_DMA', got, 'ok' in want ? { ok: 0 } : want);
    const exp = encodeUnmap(a);
    if ('ok' in want) new DataView(exp.buffer).setBigUint64(16, want.ok, true); // size written back on success only
    eq(w, 'UNMAP_DMA struct after the call', buf, exp);
  } else {
    expectRes(w, 'VFIO_IOMMU_UNMAP_DMA', got, 'ok' in want ? { ok: { size: want.ok } } : want);
  }
  const n = a.size >> 12n;
  if (n > 0n && n <= BigInt(CAP)) touched.push([Number(a.iova >> 12n), Number(n)]);
  for (const d of before) if (!w.m.dmas.has(d.id)) touched.push([d.iova, d.npages]);
}

function resolveUnmapDmas(w: World, o: Extract<Op, { k: 'unmapDmas' }>): UnmapArgs {
  const ds = w.m.sortedDmas();
  let lo = 0,
    hi = WINDOW - 1;
  if (ds.length > 0) {
    const i = o.pick % ds.length,
      j = Math.min(ds.length - 1, i + o.span - 1);
    lo = ds[i]!.iova;
    hi = ds[j]!.iova + ds[j]!.npages - 1;
    if (o.cut === 1) lo++;
    else if (o.cut === 2) hi--;
    else if (o.cut === 3) lo = Math.max(0, lo - 1);
    else if (o.cut === 4) hi++;
    if (hi < lo) hi = lo;
  }
  return { argsz: o.argsz ?? 24, flags: 0, iova: BigInt(lo) << 12n, size: BigInt(hi - lo + 1) << 12n };
}

function doInfo(w: World, o: Extract<Op, { k: 'info' }>): void {
  const need = w.m.set && w.profile === 'mainline' ? 88 + 16 * w.m.iovaList().length : 24;
  const argsz = o.argsz === 'need' ? need : o.argsz;
  w.log.push(`ioctl(GET_INFO, argsz ${argsz})`);
  const mk = () => {
    const b = new Uint8Array(Math.max(argsz, 24)).fill(0xee);
    new DataView(b.buffer).setUint32(0, argsz, true);
    return b;
  };
  const bi = mk(),
    bm = mk();
  const got = capture(() => w.c.ioctl(GET_INFO, bi));
  const want = w.m.getInfo(bm);
  expectRes(w, 'VFIO_IOMMU_GET_INFO', got, want);
  eq(w, 'GET_INFO bytes written back', bi, bm);
}

function doDma(w: World, o: Extract<Op, { k: 'dma' }>, touched: Touched): void {
  const g = w.groups[o.g]!,
    drv = w.drvs[o.g]!,
    dev = g.devices[o.dev % g.devices.length]!;
  const ds = w.m.sortedDmas();
  let iova = o.off % WINDOW;
  let n = o.n;
  if (o.pick !== null && ds.length > 0) {
    // inside the picked dma (the window mode runs over ends and holes)
    const d = ds[o.pick % ds.length]!;
    iova = d.iova + (o.off % d.npages);
    n = 1 + ((o.n - 1) % (d.iova + d.npages - iova));
  }
  w.log.push(`drv${o.g < 2 ? 'A' : 'B'}.dma(${dev}, ${hx(iova)}, ${n}, '${o.write ? 'write' : 'read'}')`);
  const want = w.m.dma(w.specs[o.g]!, iova, n, o.write);
  const f0 = drv.faults().length;
  const got = drv.dma(dev, iova, n, o.write ? 'write' : 'read');
  if (STATS) {
    const key = `${w.profile} device DMA ${want.fault?.reason ?? 'ok'}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  eq(w, 'device DMA result', got, want.ok);
  eq(
    w,
    'device faults',
    drv
      .faults()
      .slice(f0)
      .map((f) => ({ deviceId: f.deviceId, iova: f.iova, write: f.write, reason: f.reason })),
    want.fault === null ? [] : [{ deviceId: dev, iova: want.fault.iova, write: o.write, reason: want.fault.reason }],
  );
  for (const pfn of want.written) eq(w, `device writes that reached pfn ${hx(pfn)}`, w.sim.mem.dmaWritten.get(pfn), w.m.written.get(pfn));
  touched.push([iova, n]);
}

function groupCall(w: World, k: 'addGroup' | 'removeGroup', gi: number): void {
  w.log.push(`${k}(g${gi})`);
  const g = w.groups[gi]!,
    s = w.specs[gi]!;
  if (k === 'addGroup')
    expectRes(
      w,
      'VFIO_GROUP_SET_CONTAINER',
      capture(() => {
        w.c.addGroup(g);
        return 0;
      }),
      w.m.addGroup(s),
    );
  else
    expectRes(
      w,
      'VFIO_GROUP_UNSET_CONTAINER',
      capture(() => {
        w.c.removeGroup(g);
        return 0;
      }),
      w.m.removeGroup(s),
    );
  operations++;
}
function setIommu(w: World, type: number): void {
  w.log.push(`setIommu(${type})`);
  expectRes(
    w,
    'VFIO_SET_IOMMU',
    capture(() => {
      w.c.setIommu(type);
      return 0;
    }),
    w.m.setIommu(type),
  );
  operations++;
}

/** Distinct domains of the model's attached groups; and every device of a detached group has none. */
function domains(w: World): IommuDomain[] {
  const out = new Set<IommuDomain>(),
    att = w.m.attached();
  w.groups.forEach((g, i) => {
    for (const dev of g.devices) {
      const d = w.drvs[i]!.deviceDomain(dev);
      if ((d !== null) !== att.includes(w.specs[i]!))
        fail(
          w,
          `g${i} device ${dev} ${d === null ? 'has no domain but its group is attached' : 'still has a domain but its group is not attached'}`,
        );
      if (d !== null) out.add(d);
    }
  });
  return [...out];
}

/** Any new safety violation fails the sequence. */
function checkViolations(w: World): void {
  const vs = w.sim.violations;
  if (vs.length > 0) fail(w, `safety violation: ${JSON.stringify(vs[0])}`);
}

/** The cheap checks of every step: counters, the dma list, attachment, translations of the touched pages. */
function checkStep(w: World, touched: Touched): void {
  const { m, c, sim } = w;
  eq(w, 'proc.lockedVm', w.proc.lockedVm, m.lockedVm);
  eq(w, 'sim.mem.pinnedPages', sim.mem.pinnedPages, m.pinned);
  eq(w, 'container pinned pages', c.iommu?.pinnedPages ?? 0, m.pinned);
  checkViolations(w);
  eq(
    w,
    'mappings [iova, vaddr, size, prot, lockedPages]',
    c.mappings().map((x) => [x.iova, x.vaddr, x.size, x.prot, x.lockedPages]),
    m.sortedDmas().map((d) => [BigInt(d.iova) << 12n, BigInt(d.vaddr) << 12n, BigInt(d.npages) << 12n, d.prot, d.lockedPages]),
  );
  if (w.profile === 'mainline' && m.set) eq(w, 'dma_avail', c.dmaAvail, m.dmaAvail);
  const doms = domains(w);
  if (doms.length === 0) eq(w, 'page tables in use with no domain', sim.mem.tables.inUse, 0);
  for (const dom of doms) {
    for (const [lo, n] of touched) {
      for (let p = lo; p < lo + n; p++) {
        const got = iommuIovaToPhys(dom, p);
        if (got !== m.reach(p)) fail(w, `domain ${dom.id}: IOVA page ${hx(p)} reaches pfn ${got}, the model says ${m.reach(p)}`);
      }
    }
  }
}

/** Every leaf of every attached domain against the model's pages, every device write, the checker's walk. */
function sweep(w: World): void {
  for (const dom of domains(w)) {
    let n = 0;
    (dom as RefDomain).pt.forEachLeaf((iova, pfn, order) => {
      for (let k = 0; k < 2 ** (order - 12); k++) {
        if (w.m.reach(iova + k) !== pfn + k)
          fail(w, `domain ${dom.id}: leaf maps IOVA page ${hx(iova + k)} to pfn ${pfn + k}, the model says ${w.m.reach(iova + k)}`);
      }
      n += 2 ** (order - 12);
    });
    eq(w, `domain ${dom.id}: pages mapped`, n, w.m.pages.size);
  }
  eq(
    w,
    'device writes per pfn',
    new Map([...w.sim.mem.dmaWritten].sort((a, b) => a[0] - b[0])),
    new Map([...w.m.written].sort((a, b) => a[0] - b[0])),
  );
  if (!w.c.closed) {
    const added = w.c.check();
    if (added.length > 0) fail(w, `checker walk: ${JSON.stringify(added[0])}`);
    checkViolations(w);
  }
}

function closeAndCheck(w: World): void {
  w.log.push('close()');
  const got = capture(() => {
    w.c.close();
    return 0;
  });
  w.m.close();
  eq(w, 'close()', got, { ok: 0 });
  operations++;
  eq(w, 'pins after close', w.sim.mem.pinnedPages, 0);
  eq(w, 'lockedVm after close', w.proc.lockedVm, 0);
  eq(w, 'page tables after close', w.sim.mem.tables.inUse, 0);
  domains(w);
  checkViolations(w);
}

/** A fresh container of the same process: G0 added, SET_IOMMU with the sequence's type. */
function open(w: World): void {
  w.c = w.host.openContainer(w.proc, w.opts);
  w.log.push('openContainer()');
  groupCall(w, 'addGroup', 0);
  setIommu(w, w.env.v2 ? 3 : 1);
}

function runSequence(profile: Profile, env: EnvSpec, ops: readonly Op[]): void {
  const w = build(profile, env);
  sequences++;
  open(w);
  checkStep(w, []);
  for (const o of ops) {
    w.step++;
    const touched: Touched = [];
    let structural = false;
    switch (o.k) {
      case 'map':
        doMap(w, o, touched);
        operations++;
        break;
      case 'unmap': {
        const a: UnmapArgs = {
          argsz: o.argsz ?? 24,
          flags: o.flags,
          iova: (BigInt(o.iova) << 12n) + BigInt(o.imis),
          size: bytesOf(o.pages, o.smis),
        };
        doUnmap(w, a, o.argsz !== null, touched);
        operations++;
        break;
      }
      case 'unmapDmas':
        doUnmap(w, resolveUnmapDmas(w, o), o.argsz !== null, touched);
        operations++;
        break;
      case 'info':
        doInfo(w, o);
        operations++;
        break;
      case 'dma':
        doDma(w, o, touched);
        deviceDmas++;
        break;
      case 'addGroup':
      case 'removeGroup':
        groupCall(w, o.k, o.g);
        structural = true;
        break;
      case 'setIommu':
        setIommu(w, o.type);
        structural = true;
        break;
      case 'checkExtension':
        w.log.push(`checkExtension(${o.ext})`);
        expectRes(
          w,
          'VFIO_CHECK_EXTENSION',
          capture(() => w.c.checkExtension(o.ext)),
          { ok: w.m.checkExtension(o.ext) },
        );
        operations++;
        break;
      case 'close':
        closeAndCheck(w);
        open(w);
        structural = true;
        break;
    }
    if (STATS) {
      const key = `${profile} steps with ${w.m.set ? `IOMMU set, ${w.m.attached().length} groups` : 'no IOMMU'}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    checkStep(w, touched);
    if (structural || w.step % SWEEP_EVERY === 0) sweep(w);
  }
  sweep(w);
  closeAndCheck(w);
}

describe('vfio_type1_vs_spec_model', () => {
  PROFILES.forEach((profile, i) => {
    const runs = Math.ceil(RUNS / PROFILES.length);
    it(`test_differential_random_sequences profile=${profile} runs=${runs} maxlen=${MAXLEN}`, () => {
      let failed = false;
      fc.assert(
        fc.property(envArb, fc.array(opArb, { minLength: 1, maxLength: MAXLEN, size: 'max' }), (env, ops) => {
          try {
            runSequence(profile, env, ops);
          } catch (e) {
            if (!failed) {
              failed = true;
              divergences++;
            }
            throw e;
          }
        }),
        { seed: SEED ?? 0x7e57 + i, numRuns: runs, ...(PATH === undefined ? {} : { path: PATH }) },
      );
    }, 900_000);
  });
});
