#!/usr/bin/env node
// pkgcheck: pack each package the way it would be published, install it ALONE from its tarball(s) in an
// empty directory outside the workspace, then: a library is imported from ESM and CJS, a consumer is
// type-checked under node16 resolution (.mts and .cts), publint + attw run on the tarball; the CLI
// (@x/vfio-sim) runs from its installed bin (--version, a small run, a compare on worker threads) and
// gets publint. Every packed README's relative links must resolve inside its tarball (links.mjs).
// See README.md. Plain Node ESM, no dependencies. Exit 0 only if every check passed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { brokenLinks, readmeLinks } from './links.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const PNPM_VERSION = '10.34.9';
const t0 = performance.now();

// ---------------------------------------------------------------------------------------------------------
// The packages, in dependency order. A library's `smoke` runs identically from ESM and CJS with `m` = the
// package and `core` = @x/iommu-core; `types` is a consumer module type-checked as both .mts and .cts.
// The CLI (kind 'cli') has no imports to check: it is run through its installed bin instead.
// ---------------------------------------------------------------------------------------------------------
const PACKAGES = [
  {
    dir: 'packages/iommu-core',
    kind: 'lib',
    smoke: `
      const sim = m.createSim({ memory: 1n << 30n, seed: 1 });
      const drv = m.createReferenceDriver(sim);
      const dom = drv.domainAlloc();
      const pfn = sim.mem.allocFrames(512, { align: 512 });
      m.iommuMap(dom, 0x200, pfn, 512, m.IOMMU_READ | m.IOMMU_WRITE);
      const got = m.iommuIovaToPhys(dom, 0x207);
      if (got !== pfn + 7) throw new Error('iommuIovaToPhys(0x207) = ' + got + ', want ' + (pfn + 7));
      if (m.iommuIovaToPhys(dom, 0x10000) !== -1) throw new Error('unmapped iova translated');
      const n = m.iommuUnmap(dom, 0x200, 512);
      if (n !== 512) throw new Error('iommuUnmap returned ' + n + ', want 512');
      if (m.iommuIovaToPhys(dom, 0x207) !== -1) throw new Error('iova still translates after unmap');
      let err; try { m.iommuMap(dom, 0x201, pfn, 1, 0); m.iommuMap(dom, 0x201, pfn, 1, 0); } catch (e) { err = e; }
      if (!(err instanceof m.IommuError) || !(err instanceof m.SysError)) throw new Error('double map did not throw IommuError: ' + err);`,
    // per subpath: code run with `m` = the main entry, `sub` = the subpath (`subs`: all of them), from ESM and
    // from CJS; a class reached through two entries must be one class (the entries share chunks, not copies)
    subpaths: {
      './internals': `
        const sim = m.createSim({ memory: 1n << 30n, seed: 1 });
        if (!(sim.rng instanceof sub.Prng) || !(sim.clock instanceof sub.SimClock)) throw new Error('sim.rng / sim.clock are not the Prng / SimClock of ./internals');
        if (sub.PT_ENTRY_OA !== 2 || typeof sub.PageTable !== 'function') throw new Error('engine exports missing');`,
      './testing': `
        const sim = m.createSim({ memory: 1n << 30n, seed: 1 });
        if (!(sim.faults instanceof sub.FaultInjector)) throw new Error('sim.faults is not the FaultInjector of ./testing');
        if (sub.ptFormatSelfTest(subs['./internals'].createRefFormat(m.SZ_4K | m.SZ_2M | m.SZ_1G)).length !== 0) throw new Error('ptFormatSelfTest failed on the reference format');`,
    },
    types: `
      import { createSim, createReferenceDriver, iommuMap, iommuIovaToPhys, IOMMU_READ, IommuError, type Sim, type IommuDomain } from '@x/iommu-core';
      const sim: Sim = createSim({ memory: 1n << 30n, seed: 1 });
      const dom: IommuDomain = createReferenceDriver(sim).domainAlloc();
      iommuMap(dom, 0x200, sim.mem.allocFrames(1), 1, IOMMU_READ);
      export const pfn: number = iommuIovaToPhys(dom, 0x200);
      export const isErr = (e: unknown): e is IommuError => e instanceof IommuError;
      // @ts-expect-error -- fails only if the declarations are real (an 'any' would make this line compile)
      export const bad: string = iommuIovaToPhys(dom, 0x200);`,
  },
  {
    dir: 'packages/amd-iommu',
    kind: 'lib',
    smoke: `
      const sim = core.createSim({ memory: 1n << 30n, seed: 1 });
      const amd = m.createAmdIommu(sim, { profile: 'mainline' });
      const dom = amd.domainAlloc();
      amd.attachDevice(dom, 0x100);
      const pfn = sim.mem.allocFrames(16, { align: 16 });
      core.iommuMap(dom, 0x1000, pfn, 1, core.IOMMU_READ | core.IOMMU_WRITE);
      const e = amd.readPte(dom, 0x1000);
      if (e === null || typeof e.pte !== 'bigint' || e.pte === 0n) throw new Error('readPte: ' + (e && e.pte));
      if (core.iommuIovaToPhys(dom, 0x1000) !== pfn) throw new Error('iova 0x1000 does not translate to ' + pfn);
      if (!amd.dma(0x100, 0x1000, 1, 'read')) throw new Error('device read of a mapped page faulted');
      if (amd.dma(0x100, 0x2000, 1, 'read')) throw new Error('device read of an unmapped page succeeded');`,
    subpaths: {
      './internals': `
        const amd = m.createAmdIommu(core.createSim({ memory: 1n << 30n, seed: 1 }));
        if (!(amd.hw instanceof sub.AmdIommuHw)) throw new Error('amd.hw is not the AmdIommuHw of ./internals');
        if (sub.pteBigInt(new Int32Array([1, 2]), 0) !== 0x200000001n) throw new Error('pteBigInt of words [1, 2] = ' + sub.pteBigInt(new Int32Array([1, 2]), 0));`,
      './testing': `
        if (!Array.isArray(sub.amdv1Cfgs) || sub.amdv1Cfgs.length === 0) throw new Error('amdv1Cfgs is empty');`,
    },
    types: `
      import { createSim, iommuMap, IOMMU_READ, type Sim } from '@x/iommu-core';
      import { createAmdIommu, type AmdIommu, type AmdIommuOptions } from '@x/amd-iommu';
      const sim: Sim = createSim({ memory: 1n << 30n, seed: 1 });
      const opts: AmdIommuOptions = { profile: 'mainline' };
      const amd: AmdIommu = createAmdIommu(sim, opts);
      const dom = amd.domainAlloc();
      iommuMap(dom, 0x1000, sim.mem.allocFrames(1), 1, IOMMU_READ);
      export const e: { pte: bigint; level: number } | null = amd.readPte(dom, 0x1000);
      // @ts-expect-error -- fails only if the declarations are real
      export const bad: number = amd.readPte(dom, 0x1000);`,
  },
  {
    dir: 'packages/vfio-type1',
    kind: 'lib',
    smoke: `
      const M2 = 2n << 20n;
      const sim = core.createSim({ memory: 1n << 30n, seed: 1 });
      const drv = core.createReferenceDriver(sim);
      const host = new m.Host(sim);
      const g = host.addGroup(drv, { devices: 1 });
      const p = host.spawn({});
      const va = p.mmap(M2, { backing: 'thp' });
      const c = host.openContainer(p, { profile: 'mainline' });
      c.addGroup(g);
      c.setIommu(m.VFIO_TYPE1v2_IOMMU);
      const RW = m.VFIO_DMA_MAP_FLAG_READ | m.VFIO_DMA_MAP_FLAG_WRITE;
      c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
      if (p.lockedVm !== 512) throw new Error('lockedVm after mapping 2 MiB = ' + p.lockedVm + ', want 512');
      if (!drv.dma(g.devices[0], 0, 512, 'write')) throw new Error('device write to the mapped 2 MiB faulted');
      let err; try { c.mapDma({ vaddr: va, iova: 1n, size: M2, flags: RW }); } catch (e) { err = e; }
      if (!(err instanceof m.VfioError) || err.code !== 'EINVAL') throw new Error('unaligned MAP_DMA: ' + err);
      const r = c.unmapDma({ iova: 0n, size: M2 });
      if (r.size !== M2) throw new Error('unmapDma freed ' + r.size + ' bytes, want ' + M2);
      if (p.lockedVm !== 0) throw new Error('lockedVm after unmap = ' + p.lockedVm + ', want 0');
      c.close();
      if (sim.violations.length !== 0) throw new Error('checker violations: ' + JSON.stringify(sim.violations));`,
    subpaths: {
      './internals': `
        const sim = core.createSim({ memory: 1n << 30n, seed: 1 });
        const host = new m.Host(sim);
        const c = host.openContainer(host.spawn({}), { profile: 'mainline' });
        c.addGroup(host.addGroup(core.createReferenceDriver(sim), { devices: 1 }));
        c.setIommu(m.VFIO_TYPE1v2_IOMMU);
        if (!(c.iommu.dmas instanceof sub.DmaTree)) throw new Error('c.iommu.dmas is not the DmaTree of ./internals');`,
    },
    types: `
      import { createSim, createReferenceDriver, type Sim } from '@x/iommu-core';
      import { Host, VfioError, VFIO_TYPE1v2_IOMMU, VFIO_DMA_MAP_FLAG_READ, type Container, type Process } from '@x/vfio-type1';
      const sim: Sim = createSim({ memory: 1n << 30n, seed: 1 });
      const host = new Host(sim);
      const p: Process = host.spawn({ memlockLimit: 1n << 30n });
      const c: Container = host.openContainer(p, { profile: 'mainline' });
      c.addGroup(host.addGroup(createReferenceDriver(sim), { devices: 1 }));
      c.setIommu(VFIO_TYPE1v2_IOMMU);
      c.mapDma({ vaddr: p.mmap(2n << 20n, { backing: 'thp' }), iova: 0n, size: 2n << 20n, flags: VFIO_DMA_MAP_FLAG_READ });
      export const freed: bigint = c.unmapDma({ iova: 0n, size: 2n << 20n }).size;
      export const locked: number = p.lockedVm;
      export const isErr = (e: unknown): e is VfioError => e instanceof VfioError;
      // @ts-expect-error -- fails only if the declarations are real
      export const bad: string = p.lockedVm;`,
  },
  // the piscina worker is a second entry: compare runs its cases on worker threads that load it
  { dir: 'tools/vfio-sim', kind: 'cli', extra: ['dist/worker.js'] },
];

// ---------------------------------------------------------------------------------------------------------
// Process helpers
// ---------------------------------------------------------------------------------------------------------
class StepError extends Error {
  constructor(message, output = '') {
    super(message);
    this.output = output;
  }
}

// A small semaphore so that at most `limit` child processes run at once (tsc and attw are CPU-bound).
const LIMIT = Number(process.env.PKGCHECK_JOBS) || Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) + 1);
let running = 0;
const waiting = [];
async function withSlot(fn) {
  if (running >= LIMIT) await new Promise((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// Environment for npm/node/tsc in the consumer dirs: nothing inherited from the pnpm/npm script that runs
// us (npm_config_local_prefix would make npm install INTO the workspace), a private npm cache.
const KEEP_NPM = /^npm_config_(registry|cafile|ca|proxy|https_proxy|http_proxy|noproxy|strict_ssl|userconfig)$/i;
function consumerEnv(cache) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !KEEP_NPM.test(k)) continue;
    if (k === 'INIT_CWD' || k === 'PNPM_PACKAGE_NAME' || k === 'NODE_PATH') continue;
    env[k] = v;
  }
  Object.assign(env, {
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_yes: 'true',
    npm_config_loglevel: 'warn',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  });
  return env;
}

function run(cmd, args, { cwd, env = process.env, timeout = 120_000 } = {}) {
  return withSlot(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.stderr.on('data', (d) => {
          out += d;
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
        const shown = (a) =>
          a.includes('\n') ? `'<${a.split('\n').length}-line script>'` : a === '' || /[\s"'$]/.test(a) ? JSON.stringify(a) : a;
        const line = [cmd, ...args].map(shown).join(' ');
        child.on('error', (e) => {
          clearTimeout(timer);
          reject(new StepError(`cannot run ${line}: ${e.message}`));
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (code === 0) resolve(out);
          else reject(new StepError(`\`${line}\` (in ${cwd ?? process.cwd()}) exited with ${signal ?? code}`, out));
        });
      }),
  );
}

// pnpm: the one running this script (`pnpm test`), else the pinned version through npx.
function pnpmCommand() {
  const exec = process.env.npm_execpath;
  if (exec && /pnpm/i.test(path.basename(exec))) {
    return /\.[cm]?js$/.test(exec) ? [process.env.npm_node_execpath || process.execPath, [exec]] : [exec, []];
  }
  return ['npx', ['-y', `pnpm@${PNPM_VERSION}`]];
}

// ---------------------------------------------------------------------------------------------------------
// Tarball reader (ustar + gzip), enough for npm/pnpm tarballs
// ---------------------------------------------------------------------------------------------------------
function readTarball(file) {
  const buf = gunzipSync(fs.readFileSync(file));
  const files = new Map();
  let longName = null;
  for (let off = 0; off + 512 <= buf.length; ) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a, b) => h.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    let name = str(0, 100);
    if (str(257, 263).startsWith('ustar') && str(345, 500)) name = `${str(345, 500)}/${name}`;
    const body = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      longName = m ? m[1] : null;
      continue;
    }
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === '0' || type === '\0') files.set((longName ?? name).replace(/^[^/]+\//, ''), body);
    longName = null;
  }
  return files;
}

/** Every file the manifest points at: main/module/types, each exports target and each bin. */
function exportTargets(pkg) {
  const out = new Set();
  const walk = (v) => {
    if (typeof v === 'string') out.add(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  for (const k of ['main', 'module', 'types', 'typings']) if (pkg[k]) out.add(pkg[k]);
  walk(pkg.exports);
  walk(typeof pkg.bin === 'string' ? [pkg.bin] : pkg.bin);
  return [...out].filter((t) => !t.includes('*')).map((t) => t.replace(/^\.\//, ''));
}

// ---------------------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------------------
const manifests = new Map(); // name -> { dir, pkg }
for (const p of PACKAGES) {
  p.abs = path.join(ROOT, p.dir);
  p.pkg = JSON.parse(fs.readFileSync(path.join(p.abs, 'package.json'), 'utf8'));
  p.name = p.pkg.name;
  manifests.set(p.name, p);
}
const localDeps = (p) => Object.keys(p.pkg.dependencies ?? {}).filter((d) => manifests.has(d));
const closure = (p, acc = new Set()) => {
  for (const d of localDeps(p))
    if (!acc.has(d)) {
      acc.add(d);
      closure(manifests.get(d), acc);
    }
  return acc;
};

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pkgcheck-'));
const keep = process.env.PKGCHECK_KEEP === '1';
const cleanup = () => {
  if (!keep) fs.rmSync(TMP, { recursive: true, force: true });
};
process.on('exit', cleanup); // also after an unexpected throw
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const results = new Map(PACKAGES.map((p) => [p.name, []])); // name -> [{ step, ok, note, err }]
const record = (p, step, ok, note = '', err = null, ms = 0) => results.get(p.name).push({ step, ok, note, err, ms });
async function step(p, name, fn) {
  const t = performance.now();
  try {
    const note = (await fn()) ?? '';
    record(p, name, true, note, null, performance.now() - t);
    return true;
  } catch (e) {
    record(p, name, false, '', e instanceof StepError ? e : new StepError(e?.stack ?? String(e)), performance.now() - t);
    return false;
  }
}

// 1. dist: sequential, in dependency order (a dependent's dts build reads its dependency's dist).
for (const p of PACKAGES) {
  p.ok = await step(p, 'dist', async () => {
    const missing = () =>
      [...exportTargets(p.pkg), ...(p.extra ?? [])].filter((t) => t !== 'package.json' && !fs.existsSync(path.join(p.abs, t)));
    if (missing().length === 0) return 'present';
    const before = missing().join(', ');
    await run(path.join(BIN, 'tsup'), [], { cwd: p.abs });
    const still = missing();
    if (still.length) throw new StepError(`tsup ran but ${still.join(', ')} still missing`);
    return `(was missing ${before}: built with tsup)`;
  });
}

// 2. pack: one pnpm process packs every package (pnpm rewrites workspace:^), into a fresh dir.
const [pnpmCmd, pnpmPre] = pnpmCommand();
const packDir = path.join(TMP, 'packs');
fs.mkdirSync(packDir);
const toPack = PACKAGES.filter((p) => p.ok);
if (toPack.length) {
  const t = performance.now();
  let out = '',
    err = null;
  try {
    out = await run(
      pnpmCmd,
      [...pnpmPre, '--recursive', ...toPack.flatMap((p) => ['--filter', `./${p.dir}`]), 'pack', '--pack-destination', packDir],
      { cwd: ROOT },
    );
  } catch (e) {
    err = e;
  }
  const tgzs = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  for (const p of toPack) {
    const want = `${p.name.replace(/^@/, '').replace('/', '-')}-${p.pkg.version}.tgz`;
    p.ok = await step(p, 'pack', () => {
      if (!tgzs.includes(want)) throw err ?? new StepError(`${want} not in ${packDir} (found: ${tgzs.join(', ') || 'nothing'})`, out);
      p.tarball = path.join(packDir, want);
      p.files = readTarball(p.tarball);
      return `${want} (${p.files.size} files, ${(fs.statSync(p.tarball).size / 1024).toFixed(0)} KiB)`;
    });
    results.get(p.name).at(-1).ms = performance.now() - t;
  }
}

// 3. manifest in the tarball: workspace: rewritten, every entry point present, "files" entries present.
for (const p of PACKAGES) {
  if (!p.ok) continue;
  p.ok = await step(p, 'manifest', () => {
    const raw = p.files.get('package.json');
    if (!raw) throw new StepError('package.json missing from tarball');
    const pkg = JSON.parse(raw.toString('utf8'));
    const problems = [];
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
      for (const [d, r] of Object.entries(pkg[field] ?? {})) {
        if (/^(workspace|link|file|portal|catalog):/.test(r)) problems.push(`${field}.${d} is still "${r}"`);
        const local = manifests.get(d);
        if (local && field !== 'devDependencies' && ![`^${local.pkg.version}`, `~${local.pkg.version}`, local.pkg.version].includes(r)) {
          problems.push(`${field}.${d} is "${r}", which the local ${d}@${local.pkg.version} may not satisfy`);
        }
      }
    }
    for (const t of [...exportTargets(pkg), ...(p.extra ?? [])])
      if (!p.files.has(t)) problems.push(`entry point ${t} is not in the tarball`);
    for (const f of ['README.md', 'LICENSE']) if (!p.files.has(f)) problems.push(`${f} is not in the tarball`);
    for (const b of Object.values(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {}))) {
      const body = p.files.get(b.replace(/^\.\//, ''));
      if (body && !body.subarray(0, 64).toString('utf8').startsWith('#!/usr/bin/env node\n'))
        problems.push(`bin ${b} does not start with #!/usr/bin/env node`);
    }
    if (problems.length) throw new StepError(problems.join('\n'));
    const declared = (pkg.files ?? []).filter((f) => !/[*!]/.test(f));
    const absent = declared.filter((f) => ![...p.files.keys()].some((k) => k === f || k.startsWith(`${f}/`)));
    const deps = Object.entries(pkg.dependencies ?? {})
      .map(([d, r]) => `${d}@${r}`)
      .join(', ');
    return [deps && `deps: ${deps}`, absent.length && `note: "files" lists ${absent.join(', ')} but the package has none`]
      .filter(Boolean)
      .join('; ');
  });
}

// 4. the README as the tarball ships it: every relative link names a file (and heading) inside the tarball.
for (const p of PACKAGES) {
  if (!p.ok) continue;
  await step(p, 'readme links', () => {
    const md = p.files.get('README.md');
    if (!md) throw new StepError('README.md is not in the tarball');
    const read = (f) => p.files.get(f)?.toString('utf8');
    const bad = brokenLinks(md.toString('utf8'), p.files, read);
    if (bad.length)
      throw new StepError(
        `${bad.length} link(s) in README.md do not resolve inside the tarball`,
        bad.map((b) => `README.md:${b.line}: (${b.target}) ${b.why}`).join('\n'),
      );
    const links = readmeLinks(md.toString('utf8'));
    const rel = links.filter((l) => !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(l.target)).length;
    return `${links.length} links, the ${rel} relative ones all inside the tarball`;
  });
}

/**
 * The CLI as a user gets it: `npm install` of its tarball (and its @x dependencies' tarballs; commander,
 * cli-progress and piscina come from the registry) in an empty dir, then its installed bin,
 * node_modules/.bin/vfio-sim: --version and --help (which must name the bin: invocation.ts), a small run
 * whose --json is a complete result, and a compare on two worker threads (piscina loads dist/worker.js
 * from the installed package).
 */
async function checkCli(p, deps, dir, env) {
  const bin = path.join(dir, 'node_modules', '.bin', 'vfio-sim');
  const installed = path.join(dir, 'node_modules', ...p.name.split('/'));
  const cliEnv = { ...env, VFIO_SIM_INVOCATION: '' }; // as a user's shell has it
  const ran = (args) => run(bin, args, { cwd: dir, env: cliEnv });
  const lint = step(p, 'publint', async () => {
    const out = await run(path.join(BIN, 'publint'), ['--strict', p.tarball], { cwd: dir, env });
    if (!/All good/i.test(out)) throw new StepError('publint reported something', out);
    return 'All good';
  });
  const use = (async () => {
    if (
      !(await step(p, 'install', async () => {
        await run('npm', ['init', '-y'], { cwd: dir, env });
        await run('npm', ['install', '--no-audit', '--no-fund', p.tarball, ...deps.map((d) => d.tarball)], { cwd: dir, env });
        const st = fs.lstatSync(installed, { throwIfNoEntry: false });
        if (!st || st.isSymbolicLink()) throw new StepError(`${installed} is ${st ? 'a link' : 'missing'}, not an installed copy`);
        if (!fs.existsSync(bin)) throw new StepError(`${bin} missing: npm did not link the bin`);
        const third = ['commander', 'cli-progress', 'piscina'].map(
          (d) => `${d}@${JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', d, 'package.json'), 'utf8')).version}`,
        );
        return `${p.name}@${p.pkg.version} + ${deps.length} @x tarballs; ${third.join(', ')} from the registry`;
      }))
    )
      return;
    await step(p, 'bin', async () => {
      const v = (await ran(['--version'])).trim();
      if (v !== p.pkg.version) throw new StepError(`vfio-sim --version printed '${v}', package.json says ${p.pkg.version}`);
      const help = await ran(['--help']);
      if (!help.startsWith('Usage: vfio-sim [options] [command]\n') || !help.includes('\n  $ vfio-sim sweep --tlb-sync-max')) {
        throw new StepError('vfio-sim --help does not name the installed bin in its usage line and examples', help);
      }
      return `vfio-sim --version = ${v}; --help names 'vfio-sim'`;
    });
    await step(p, 'run', async () => {
      const out = await ran(['run', '--guest', '1G', '--json']);
      const res = JSON.parse(out);
      const c = res.cases?.[0];
      if (
        res.schema !== 'vfio-sim/result@2' ||
        res.cases.length !== 1 ||
        !(c.metrics.unmapIoctls > 0) ||
        c.metrics.violations !== 0 ||
        c.metrics.ioctlErrors !== 0
      ) {
        throw new StepError('vfio-sim run --guest 1G --json is not one clean case', out.slice(0, 2000));
      }
      return `run --guest 1G --json: ${c.label}, ${c.metrics.unmapIoctls} UNMAP_DMA, ${c.metrics.iotlbSyncs} syncs, no violations`;
    });
    await step(p, 'workers', async () => {
      const worker = path.join(installed, 'dist', 'worker.js');
      if (!fs.existsSync(worker)) throw new StepError(`${worker} missing: compare would fall back to one thread`);
      const args = ['compare', '--guest', '1G', '--profile', 'v4.16,mainline', '--dma', 'none', '--json'];
      const [threads, serial] = [await ran([...args, '--workers', '2']), await ran([...args, '--serial'])];
      if (threads !== serial)
        throw new StepError('compare on 2 worker threads printed other numbers than --serial', threads.slice(0, 2000));
      return `compare of 2 cases on 2 piscina threads (${path.relative(dir, worker)}) = --serial, byte for byte`;
    });
  })();
  await Promise.all([use, lint]);
}

/** attw's output has problems only where the profile ignores them: each table cell or summary line with a mark. */
function attwOnlyIgnored(out) {
  const mark = /💀|❌|🥴|🎭|⚠️|❗️|🐛|🚭|🤨|🚫/u;
  for (const line of out.split('\n')) {
    if (!mark.test(line)) continue;
    if (line.includes('│')) {
      if (line.split('│').some((c) => mark.test(c) && !c.trim().startsWith('(ignored)'))) return false;
    } else if (!line.trim().startsWith('(ignored per resolution)')) return false;
  }
  return true;
}

// 5.-9. per package, in parallel: a library's consumer install + imports + types, publint and attw on the
// tarball; the CLI's install and runs of its bin, publint.
const tsc = path.join(BIN, 'tsc');
await Promise.all(
  PACKAGES.map(async (p) => {
    if (!p.ok) return;
    const deps = [...closure(p)].map((d) => manifests.get(d));
    if (deps.some((d) => !d.ok)) {
      record(
        p,
        'install',
        false,
        '',
        new StepError(
          `a dependency (${deps
            .filter((d) => !d.ok)
            .map((d) => d.name)
            .join(', ')}) failed to pack`,
        ),
      );
      return;
    }
    const dir = path.join(TMP, 'consumers', path.basename(p.dir));
    fs.mkdirSync(dir, { recursive: true });
    const env = consumerEnv(path.join(TMP, 'npm-cache', path.basename(p.dir)));

    if (p.kind === 'cli') {
      await checkCli(p, deps, dir, env);
      return;
    }

    const consumer = (async () => {
      if (
        !(await step(p, 'install', async () => {
          await run('npm', ['init', '-y'], { cwd: dir, env });
          const tgzs = [p.tarball, ...deps.map((d) => d.tarball)];
          await run('npm', ['install', '--no-audit', '--no-fund', ...tgzs], { cwd: dir, env });
          const installed = [p, ...deps].map((x) => {
            const at = path.join(dir, 'node_modules', ...x.name.split('/'));
            const st = fs.lstatSync(at, { throwIfNoEntry: false });
            if (!st || st.isSymbolicLink() || !st.isDirectory())
              throw new StepError(`${at} is ${st ? 'a link' : 'missing'}, not an installed copy`);
            const v = JSON.parse(fs.readFileSync(path.join(at, 'package.json'), 'utf8')).version;
            return `${x.name}@${v}`;
          });
          return `${installed.join(' + ')} from tarballs only`;
        }))
      )
        return;

      const coreName = '@x/iommu-core';
      const check = `
      const keysE = Object.keys(esm).filter((k) => k !== 'default' && k !== 'module.exports').sort();
      const keysC = Object.keys(cjs).sort();
      if (keysE.length < 3) throw new Error('only ' + keysE.length + ' exports');
      const onlyE = keysE.filter((k) => !keysC.includes(k)), onlyC = keysC.filter((k) => !keysE.includes(k));
      if (onlyE.length || onlyC.length) throw new Error('ESM and CJS export different names: esm-only ' + onlyE + ' cjs-only ' + onlyC);`;
      await step(p, 'esm import', async () => {
        const code = `
        import * as m from ${JSON.stringify(p.name)};
        import * as core from ${JSON.stringify(coreName)};
        import * as esm from ${JSON.stringify(p.name)};
        import { createRequire } from 'node:module';
        const cjs = createRequire(import.meta.url)(${JSON.stringify(p.name)});
        const url = import.meta.resolve(${JSON.stringify(p.name)});
        if (!url.includes('/node_modules/') || !url.endsWith('/dist/index.js')) throw new Error('resolved to ' + url);
        ${check}
        ${p.smoke}
        console.log(keysE.length + ' exports via ' + url.slice(url.indexOf('node_modules/') + 13));`;
        return (await run(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, env })).trim();
      });
      await step(p, 'cjs require', async () => {
        const code = `
        const m = require(${JSON.stringify(p.name)});
        const core = require(${JSON.stringify(coreName)});
        const file = require.resolve(${JSON.stringify(p.name)});
        if (!file.includes('/node_modules/') || !file.endsWith('/dist/index.cjs')) throw new Error('resolved to ' + file);
        if (typeof m.default !== 'undefined' && Object.keys(m).length === 1) throw new Error('only a default export');
        ${p.smoke}
        console.log(Object.keys(m).length + ' exports via ' + file.slice(file.indexOf('node_modules/') + 13));`;
        return (await run(process.execPath, ['-e', code], { cwd: dir, env })).trim();
      });
      // every subpath export ("./internals", "./testing"): the same names from ESM and CJS, each file where the
      // manifest says, and the package's smoke for it (class identity across entries) from both module systems
      const subpaths = Object.keys(p.pkg.exports ?? {}).filter((k) => k !== '.' && k !== './package.json');
      if (subpaths.length)
        await step(p, 'subpaths', async () => {
          const untested = subpaths.filter((sp) => !p.subpaths?.[sp]);
          if (untested.length) throw new StepError(`no smoke in check.mjs for ${untested.join(', ')}`);
          const specs = JSON.stringify(Object.fromEntries(subpaths.map((sp) => [sp, p.name + sp.slice(1)])));
          const smokes = subpaths.map((sp) => `{ const sub = subs[${JSON.stringify(sp)}]; ${p.subpaths[sp]}\n }`).join('\n');
          const esm = `
        import * as m from ${JSON.stringify(p.name)};
        import * as core from ${JSON.stringify(coreName)};
        import { createRequire } from 'node:module';
        const req = createRequire(import.meta.url);
        const subs = {}, counts = [];
        for (const [sp, spec] of Object.entries(${specs})) {
          const base = sp.slice(2);
          const esm = subs[sp] = await import(spec), cjs = req(spec);
          const url = import.meta.resolve(spec), file = req.resolve(spec);
          if (!url.includes('/node_modules/') || !url.endsWith('/dist/' + base + '.js')) throw new Error(spec + ' (import) resolved to ' + url);
          if (!file.includes('/node_modules/') || !file.endsWith('/dist/' + base + '.cjs')) throw new Error(spec + ' (require) resolved to ' + file);
          const keysE = Object.keys(esm).filter((k) => k !== 'default' && k !== 'module.exports').sort(), keysC = Object.keys(cjs).sort();
          if (keysE.length === 0) throw new Error(spec + ' exports nothing');
          if (keysE.join() !== keysC.join()) throw new Error(spec + ': ESM and CJS export different names: ' + keysE + ' / ' + keysC);
          counts.push(spec + ' ' + keysE.length);
        }
        ${smokes}
        console.log(counts.join(', '));`;
          const cjs = `
        const m = require(${JSON.stringify(p.name)});
        const core = require(${JSON.stringify(coreName)});
        const subs = {};
        for (const [sp, spec] of Object.entries(${specs})) subs[sp] = require(spec);
        (async () => { ${smokes} })().catch((e) => { console.error(e); process.exit(1); });`;
          const out = (await run(process.execPath, ['--input-type=module', '-e', esm], { cwd: dir, env })).trim();
          await run(process.execPath, ['-e', cjs], { cwd: dir, env });
          return `${out} (ESM = CJS names; smoke from both)`;
        });
      await step(p, 'types', async () => {
        fs.writeFileSync(path.join(dir, 'consumer.mts'), p.types);
        fs.writeFileSync(path.join(dir, 'consumer.cts'), p.types);
        if (!fs.existsSync(tsc)) throw new StepError(`${tsc} not found: run pnpm install at the repo root`);
        // One tsc run: --strict type-check of both consumers, and --listFiles shows which declarations they got
        // (the .mts must load dist/index.d.ts, the .cts dist/index.d.cts).
        const args = [
          '--module',
          'node16',
          '--moduleResolution',
          'node16',
          '--target',
          'es2022',
          '--lib',
          'es2022',
          '--strict',
          '--noEmit',
          '--listFiles',
          'consumer.mts',
          'consumer.cts',
        ];
        let out;
        try {
          out = await run(tsc, args, { cwd: dir, env });
        } catch (e) {
          e.output = e.output
            .split('\n')
            .filter((l) => !l.startsWith('/'))
            .join('\n'); // drop the file list
          throw e;
        }
        const own = `/node_modules/${p.name}/dist/`;
        const got = out
          .split('\n')
          .filter((l) => l.includes(own))
          .map((l) => path.basename(l.trim()));
        if (!(got.includes('index.d.ts') && got.includes('index.d.cts')))
          throw new StepError(`expected ${own}index.d.ts (ESM) and index.d.cts (CJS), tsc loaded: ${got.join(', ') || 'neither'}`, out);
        return 'consumer.mts -> dist/index.d.ts, consumer.cts -> dist/index.d.cts (tsc --strict, node16)';
      });
    })();

    const lint = Promise.all([
      step(p, 'publint', async () => {
        const out = await run(path.join(BIN, 'publint'), ['--strict', p.tarball], { cwd: dir, env });
        if (!/All good/i.test(out)) throw new StepError('publint reported something', out);
        return 'All good';
      }),
      step(p, 'attw', async () => {
        const out = await run(path.join(BIN, 'attw'), [p.tarball, '--profile', 'node16', '--format', 'table-flipped'], { cwd: dir, env });
        if (/No problems found/i.test(out)) return 'No problems found (node16 CJS + ESM)';
        // a subpath has no node10 resolution (node10 has no "exports"): the profile ignores it, attw still prints it
        if (!attwOnlyIgnored(out)) throw new StepError('attw reported something', out);
        return 'no problems under node16 (CJS + ESM); node10 cannot resolve the subpaths (ignored by the profile)';
      }),
    ]);
    await Promise.all([consumer, lint]);
  }),
);

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------
const ORDER = {
  lib: ['dist', 'pack', 'manifest', 'readme links', 'install', 'esm import', 'cjs require', 'subpaths', 'types', 'publint', 'attw'],
  cli: ['dist', 'pack', 'manifest', 'readme links', 'install', 'bin', 'run', 'workers', 'publint'],
};
const width = Math.max(...PACKAGES.map((p) => p.name.length));
let passed = 0,
  failed = 0;
const failures = [];
for (const p of PACKAGES) {
  const order = ORDER[p.kind];
  const rs = results.get(p.name).sort((a, b) => order.indexOf(a.step) - order.indexOf(b.step));
  for (const s of order) {
    const r = rs.find((x) => x.step === s);
    const label = `${p.name.padEnd(width)}  ${s.padEnd(12)}` + (r ? `  ${(r.ms / 1000).toFixed(1).padStart(4)}s` : '');
    if (!r) {
      console.log(`--  ${label}  skipped (an earlier step failed)`);
      continue;
    }
    if (r.ok) {
      passed++;
      console.log(`ok  ${label}${r.note ? `  ${r.note}` : ''}`.trimEnd());
    } else {
      failed++;
      failures.push([p, r]);
      const why = (r.err.output ?? '')
        .split('\n')
        .find((l) => /\berror TS\d+|^\s*\w*Error\b|\bERR_[A-Z_]+|^npm (ERR|error)|[✗✖]|\(error\)/.test(l));
      console.log(`FAIL ${label}  ${why ? why.trim() : r.err.message.split('\n')[0]}`);
    }
  }
}
for (const [p, r] of failures) {
  console.log(`\n--- ${p.name} ${r.step}: ${r.err.message}`);
  if (r.err.output)
    console.log(
      r.err.output
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    );
}
console.log(`pkgcheck: ${PACKAGES.length} packages in ${((performance.now() - t0) / 1000).toFixed(1)} s${keep ? `, kept ${TMP}` : ''}`);
console.log(`pkgcheck: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
