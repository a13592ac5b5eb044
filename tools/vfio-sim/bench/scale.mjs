// pnpm bench:scale: the default scenario (q35 guest, AMD-Vi, v4.17, boot + DMA + shutdown; firmware
// none: each RAM section mapped once, the steady state) at
// 64 GiB, 256 GiB and 1 TiB for the hugetlb-1g, thp and 4k backings, each case in a fresh child
// process so peak RSS is per case. Prints wall time, peak RSS, bytes per mapped 4 KiB page (RSS
// growth during the run, and the model's typed-array bytes), the modeled counters, and each target
// of issue 8 with how far it is met or missed. Wall time is printed, never asserted.
//
//   node bench/scale.mjs                         all 9 cases
//   node bench/scale.mjs --sizes 64G --backings thp
//   node bench/scale.mjs --prof /tmp/prof        also write a --cpu-prof profile per case, print its top functions
//   node bench/scale.mjs --json                  rows and verdicts as one JSON document on stdout
//   node bench/scale.mjs --case 64G thp          one case in this process, one JSON line (used by the test)

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatProfileSummary, summariseProfileFile } from './profile-summary.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const GIB = 2 ** 30;
const TARGET_BYTES_PER_PAGE = 24,
  TARGET_THP_1T_S = 2,
  TARGET_4K_1T_S = 60,
  TARGET_LINEAR = 0.2;

function gib(size) {
  const m = /^(\d+)([GT])$/.exec(size);
  if (!m) throw new Error(`size '${size}': want <n>G or <n>T`);
  return Number(m[1]) * (m[2] === 'T' ? 1024 : 1);
}

/** The host for a guest: the CLI's default (guest + 4 GiB); 4k scatters over 1.1x the guest. */
function hostFor(size, backing) {
  const g = gib(size);
  return backing === '4k' ? `${Math.ceil(g * 1.1) + 4}G` : `${g + 4}G`;
}

/**
 * The CLI's default scenario (src/scenario/scenario.ts defaultScenario) with a guest size and backing,
 * and --firmware none: the bench measures the steady state, each RAM section mapped and pinned once
 * (pages = pins), not the SeaBIOS boot's re-mapping of low RAM.
 */
export function scenarioFor(size, backing) {
  return {
    name: 'default',
    seed: 1,
    guest: { memory: size, machine: 'q35', below4g: null, vgaHole: true, firmware: 'none', gpuBar: '256M' },
    host: { memory: hostFor(size, backing), backing },
    driver: 'amd',
    profile: 'v4.17',
    devices: 1,
    groups: 1,
    dma: { pattern: 'random', bursts: 64, pages: 16 },
    workload: 'boot',
    churn: { ops: 2000, maxPages: 16, live: 32 },
    vfio: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 },
    iommu: { iotlbEntries: 1024, superpages: true },
    cost: {},
  };
}

/** Runs one case in this process; returns the measured row. */
export async function runOne(size, backing) {
  const { runCase } = await import('../dist/worker.js');
  // the run's machine, handed over before it runs: its PhysMem and the process's VMAs (their
  // backings) are read afterwards to account the model's bytes
  let machine = null;
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const out = runCase(scenarioFor(size, backing), `${size} ${backing}`, {
    onMachine: (mc) => {
      machine = mc;
    },
  });
  const wallS = (performance.now() - t0) / 1000;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const m = out.result.metrics;
  const mem = machine.sim.mem;
  const backings = machine.proc.vmas.flatMap((v) => (v.backing === null ? [] : [v.backing]));
  const pages = m.pins; // 4 KiB pages mapped (and pinned) at the end of boot
  const fa = mem.frames;
  const model = {
    pins: mem.pins.bytes,
    reach: mem.reach4k.bytes + mem.reach2m.bytes + mem.reach1g.bytes,
    frameState: fa.state.bytes,
    // FrameAllocator's per-2 MiB-block arrays: used u16, freeList u32, pos i32
    frameBlocks: fa.nBlocks * 10,
    tables: mem.tables.bytes,
    backing: backings.reduce((a, b) => a + b.pfns.byteLength, 0),
  };
  const modelBytes = Object.values(model).reduce((a, b) => a + b, 0);
  return {
    size,
    backing,
    host: hostFor(size, backing),
    wallS,
    peakRss,
    rssGrowth: peakRss - rss0,
    pages,
    bytesPerPageRss: (peakRss - rss0) / pages,
    bytesPerPageModel: modelBytes / pages,
    model,
    counters: {
      pteWrites: m.pteWrites,
      pteClears: m.pteClears,
      tableAllocs: m.tableAllocs,
      tableFrees: m.tableFrees,
      tablesAfterBoot: m.tablesAfterBoot,
      iotlbSyncs: m.iotlbSyncs,
      invalidations: m.invalidations,
      completionWaits: m.completionWaits,
      pins: m.pins,
      unpins: m.unpins,
      regions: m.regions,
      violations: m.violations,
      ioctlErrors: m.ioctlErrors,
      modeledNs: m.modeledNs,
    },
  };
}

function child(size, backing, prof) {
  const args = ['--expose-gc'];
  if (prof) args.push('--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${size}-${backing}.cpuprofile`);
  args.push(join(HERE, 'scale.mjs'), '--case', size, backing);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0)
    return { size, backing, error: (r.stderr || `exit ${r.status} ${r.signal ?? ''}`).trim().split('\n').slice(-3).join(' | ') };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const fmtN = (n) => n.toLocaleString('en-US');
const fmtB = (b) => (b >= GIB ? `${(b / GIB).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`);
const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

function table(rows) {
  const head = [
    'guest',
    'backing',
    'wall s',
    'peak RSS',
    'B/page RSS',
    'B/page model',
    'ns/page',
    'PTE writes',
    'tables',
    'syncs',
    'pins',
    'violations',
  ];
  const body = rows.map((r) =>
    r.error
      ? [r.size, r.backing, `error: ${r.error}`]
      : [
          r.size,
          r.backing,
          r.wallS.toFixed(2),
          fmtB(r.peakRss),
          r.bytesPerPageRss.toFixed(2),
          r.bytesPerPageModel.toFixed(2),
          ((r.wallS * 1e9) / r.pages).toFixed(1),
          fmtN(r.counters.pteWrites),
          fmtN(r.counters.tablesAfterBoot),
          fmtN(r.counters.iotlbSyncs),
          fmtN(r.counters.pins),
          String(r.counters.violations),
        ],
  );
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells) => '| ' + cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  return [
    line(head),
    '|' + w.map((n, i) => (i < 2 ? ':' : '-') + '-'.repeat(n) + (i < 2 ? '-' : ':')).join('|') + '|',
    ...body.map((b) => (b.length === 3 ? `| ${b[0]} | ${b[1]} | ${b[2]} |` : line(b))),
  ].join('\n');
}

function verdicts(rows) {
  const ok = rows.filter((r) => !r.error);
  const get = (s, b) => ok.find((r) => r.size === s && r.backing === b);
  const out = [];
  const timeTarget = (s, b, lim) => {
    const r = get(s, b);
    if (!r) return out.push(`- 1 TiB ${b} < ${lim} s: not measured`);
    const v = r.wallS < lim;
    out.push(
      `- 1 TiB ${b} < ${lim} s: ${v ? 'MET' : 'MISSED'} (${r.wallS.toFixed(2)} s, ${v ? `${(lim / r.wallS).toFixed(1)}x under` : `${(r.wallS / lim).toFixed(2)}x over, ${pct(r.wallS / lim - 1)}`})`,
    );
  };
  timeTarget('1T', 'thp', TARGET_THP_1T_S);
  timeTarget('1T', '4k', TARGET_4K_1T_S);
  const big4k = ok.filter((r) => r.backing === '4k').sort((a, b) => b.pages - a.pages)[0];
  if (big4k && big4k.size !== '1T') {
    const est = big4k.wallS * (268435424 / big4k.pages);
    out.push(`  (1 TiB 4k extrapolated linearly from ${big4k.size}: ${est.toFixed(1)} s)`);
  }
  // below 64 GiB the process's fixed memory (the machine, the allocator's per-block arrays) is a
  // large share of a small guest's pages: the per-page target is about large guests
  const big = ok.filter((r) => gib(r.size) >= 64);
  if (ok.length > 0 && big.length === 0)
    out.push(`- <= ${TARGET_BYTES_PER_PAGE} bytes/page: not measured (needs a guest of 64G or more; below that fixed memory dominates)`);
  const worst = big.reduce((a, r) => Math.max(a, r.bytesPerPageRss, r.bytesPerPageModel), 0);
  const wr = big.find((r) => Math.max(r.bytesPerPageRss, r.bytesPerPageModel) === worst);
  if (wr)
    out.push(
      `- <= ${TARGET_BYTES_PER_PAGE} bytes/page (cases of 64G and up, RSS growth and model): ${worst <= TARGET_BYTES_PER_PAGE ? 'MET' : 'MISSED'} (worst ${worst.toFixed(2)} B/page at ${wr.size} ${wr.backing}, ${pct(worst / TARGET_BYTES_PER_PAGE - 1)} vs target)`,
    );
  for (const b of [...new Set(ok.map((r) => r.backing))]) {
    const rs = ok.filter((r) => r.backing === b);
    if (rs.length < 2) continue;
    const t = rs.map((r) => r.wallS / r.pages),
      m = rs.map((r) => r.rssGrowth / r.pages);
    const spread = (xs) => Math.max(...xs) / Math.min(...xs) - 1;
    const st = spread(t),
      sm = spread(m);
    // sublinear (per-page cost falls as the guest grows: a fixed cost dominates) misses the letter of
    // the 20% band but not its point; say which way the spread goes
    const dir = (xs) => (xs[xs.length - 1] < xs[0] ? ', falls with size: sublinear' : xs[xs.length - 1] > xs[0] ? ', grows with size' : '');
    out.push(
      `- linear ${b} (per-page time and memory within 20% over ${rs.map((r) => r.size).join(', ')}): time ${st <= TARGET_LINEAR ? 'MET' : 'MISSED'} (spread ${pct(st)}${dir(t)}), memory ${sm <= TARGET_LINEAR ? 'MET' : 'MISSED'} (spread ${pct(sm)}${dir(m)})`,
    );
    const a = rs[rs.length - 2],
      z = rs[rs.length - 1];
    out.push(
      `  marginal ${a.size} -> ${z.size}: ${(((z.wallS - a.wallS) * 1e9) / (z.pages - a.pages)).toFixed(2)} ns and ${((z.rssGrowth - a.rssGrowth) / (z.pages - a.pages)).toFixed(2)} B of RSS per added page`,
    );
  }
  return out.join('\n');
}

const USAGE = `usage: pnpm bench:scale [-- options]   (node bench/scale.mjs [options])

Runs the default scenario (q35, AMD-Vi, v4.17, boot + DMA + shutdown) per guest size and backing,
each case in a fresh child process, and prints wall time, peak RSS, bytes per mapped 4 KiB page,
the modeled counters and issue 8's targets. The full run (9 cases) takes minutes: 1T 4k dominates.

options:
  --sizes LIST       guest sizes, <n>G or <n>T, comma-separated   (default 64G,256G,1T)
  --backings LIST    host backings, comma-separated             (default hugetlb-1g,thp,4k)
                     one of: ${['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented'].join(', ')}
  --prof DIR         also write a --cpu-prof profile per case into DIR and print where the
                     time goes (top functions, inclusive and self; in --json: rows[].profile)
  --json             print {machine, rows, targets} as JSON instead of the table
  --case SIZE BACKING  run one case in this process and print one JSON line (used by the tests)
  -h, --help         this text`;

/** Parses argv; throws a usage error (exit 2) on anything unknown or malformed. */
export function parseArgs(argv) {
  const o = { sizes: ['64G', '256G', '1T'], backings: ['hugetlb-1g', 'thp', '4k'], prof: null, json: false, help: false, case: null };
  const val = (i, k) => {
    if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw usageError(`${k} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--' && i === 0) continue; // `pnpm bench:scale -- --sizes 64G` passes the separator on
    if (a === '-h' || a === '--help') o.help = true;
    else if (a === '--json') o.json = true;
    else if (a === '--sizes') o.sizes = val(i++, a).split(',');
    else if (a === '--backings') o.backings = val(i++, a).split(',');
    else if (a === '--prof') o.prof = val(i++, a);
    else if (a === '--case') {
      o.case = [val(i++, a), val(i++, a)];
    } else throw usageError(`unknown option '${a}'`);
  }
  for (const s of o.case ? [o.case[0]] : o.sizes) {
    if (!/^[1-9]\d*[GT]$/.test(s)) throw usageError(`size '${s}': want <n>G or <n>T`);
  }
  for (const b of o.case ? [o.case[1]] : o.backings) {
    if (!BACKINGS.includes(b)) throw usageError(`backing '${b}': want one of ${BACKINGS.join(', ')}`);
  }
  return o;
}
const BACKINGS = ['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented'];
function usageError(msg) {
  const e = new Error(msg);
  e.usage = true;
  return e;
}

async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!e.usage) throw e;
    process.stderr.write(`bench:scale: ${e.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (o.help) {
    console.log(USAGE);
    return;
  }
  if (o.case) {
    process.stdout.write(JSON.stringify(await runOne(o.case[0], o.case[1])) + '\n');
    return;
  }
  const os = await import('node:os');
  const machine = `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / GIB).toFixed(1)} GiB RAM, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  if (!o.json) {
    console.log(`vfio-sim bench:scale: default scenario (q35, AMD-Vi, v4.17, boot + DMA + shutdown), one child process per case`);
    console.log(`machine: ${machine}`);
  }
  const rows = [],
    n = o.sizes.length * o.backings.length;
  for (const s of o.sizes) {
    for (const b of o.backings) {
      // progress on stderr, so --json stays one document on stdout
      process.stderr.write(`[${rows.length + 1}/${n}] ${s} ${b} ... `);
      const r = child(s, b, o.prof);
      if (o.prof && !r.error) r.profile = summariseProfileFile(join(o.prof, `${s}-${b}.cpuprofile`));
      rows.push(r);
      process.stderr.write(r.error ? `error: ${r.error}\n` : `${r.wallS.toFixed(2)} s, ${fmtB(r.peakRss)}\n`);
    }
  }
  if (o.json) {
    console.log(JSON.stringify({ machine, rows, targets: verdicts(rows).split('\n') }, null, 2));
  } else {
    console.log('\n' + table(rows) + '\n');
    console.log('B/page RSS = (peak RSS - RSS before the run) / mapped 4 KiB pages; B/page model = typed-array bytes of pins,');
    console.log('reach counts, frame state, frame blocks, page-table arena and backing pfns / mapped pages; ns/page = wall / pages.\n');
    console.log('targets:\n' + verdicts(rows));
    for (const r of rows)
      if (r.profile)
        console.log(
          '\n' +
            formatProfileSummary(`where the time goes, ${r.size} ${r.backing} (${o.prof}/${r.size}-${r.backing}.cpuprofile)`, r.profile),
        );
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
