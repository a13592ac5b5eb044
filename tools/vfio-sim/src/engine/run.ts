// Runs one case: builds the machine, drives the workload (or a recorded stream) through the raw
// ioctl interface exactly as a VMM would, and collects the counters into a CaseResult. run and
// replay share the executor, so a replayed stream reproduces a run's counters exactly.

import { TRACE_ALL } from '@x/iommu-core';
import { VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA } from '@x/vfio-type1';
import { UsageError } from '../errors.js';
import { resolveScenario, type Resolved, type Scenario } from '../scenario/scenario.js';
import { workload, type Op } from '../scenario/workload.js';
import type { RegionName } from '../scenario/firmware.js';
import { hex, encodeDmaMap, encodeDmaUnmap, decodeDmaUnmap, DMA_MAP_SIZE, DMA_UNMAP_SIZE } from './uapi.js';
import { buildMachine, type Machine, type MachineSpec } from './machine.js';
import { REPLAY_FORMAT, REPLAY_VERSION, type HeaderLine, type MapLine, type MmapLine, type RecordLine, type UnmapLine } from './record.js';
import type { CaseResult, DmaFaultRecord, IoctlOutcome, Metrics, MismatchRecord, ViolationRecord } from './result.js';
import { collectStats } from './stats.js';
import { PinnedAfterUnmap } from './instrument.js';
import { traceIommuTrack } from './iommu-track.js';
import { ProgressMeter, ProgressPlan, type ProgressSink } from './progress-meter.js';
import { TRACE_DETAILS, TraceWriter, type TraceInfo, type TraceSpec } from '../report/perfetto.js';

export interface CaseOptions {
  /** Stream the sim's trace events to this file (for --trace). */
  readonly trace?: TraceSpec | undefined;
  /** Keep the JSON Lines record (for run --record). */
  readonly record?: boolean;
  /** Shown progress of a single case: its total before it runs, pages and ops done as it runs. */
  readonly progress?: ProgressSink | undefined;
  /**
   * Called with the machine before the case runs (runCase and replayCase), in this thread (not across
   * a worker boundary): for a caller that measures the model itself (bench/scale.mjs reads its typed
   * arrays afterwards).
   */
  readonly onMachine?: ((m: Machine) => void) | undefined;
}

export interface CaseOutput {
  readonly result: CaseResult;
  /** What the case's trace writer wrote; null without --trace. */
  readonly trace: TraceInfo | null;
  readonly record: readonly string[] | null;
}

/** The machine a scenario asks for. */
function machineSpec(r: Resolved): MachineSpec {
  const s = r.scenario;
  return {
    hostMemory: String(r.hostBytes),
    seed: s.seed,
    backing: r.backing,
    // only when it is not the default, so a default run's replay header is as before host age existed
    ...(r.hostAge !== 1 ? { hostAge: r.hostAge } : {}),
    hardware: r.machine,
    cost: { ...s.cost },
    driver: s.driver,
    profile: s.profile,
    iotlbEntries: s.iommu.iotlbEntries,
    superpages: s.iommu.superpages,
    groups: s.groups,
    devices: s.devices,
    // libvirt's rule for VFIO guests: RLIMIT_MEMLOCK = guest RAM + 1 GiB; churn buffers are charged again
    memlockLimit: String(r.guestBytes + (1n << 30n) + BigInt(s.churn.live * s.churn.maxPages) * 4096n),
    capIpcLock: false,
    container: {
      tlbSyncMax: s.vfio.tlbSyncMax,
      unmapPath: s.vfio.unmapPath,
      disableHugepages: s.vfio.disableHugepages,
      dmaEntryLimit: s.vfio.dmaEntryLimit,
    },
  };
}

const TRACK = 'qemu';

/** Executes record lines against a machine and keeps what the metrics need. */
class Executor {
  /** Modeled time per phase name; a Map because a replayed stream may name a phase 'constructor' or '__proto__'. */
  readonly phaseNs = new Map<string, number>();
  readonly errors: CaseResult['errorSamples'][number][] = [];
  mapIoctls = 0;
  unmapIoctls = 0;
  ioctlErrors = 0;
  tablesAfterBoot = -1;
  done = 0;
  /** Progress (only when shown): the pages each ioctl plans, and the meter fed from inside ioctls. */
  private readonly plan: ProgressPlan | null;
  private readonly meter: ProgressMeter | null;
  private phase: string | null = null;
  private phaseStart = 0;
  readonly out: string[] | null;
  readonly pau: PinnedAfterUnmap;
  /** Replay: calls whose result differs from the record; null for a run. */
  readonly mismatches: MismatchRecord[] | null;
  /** Replay: the first DMA_FAULTS_KEPT DMA lines that took an IO page fault; null for a run. */
  readonly dmaFaults: DmaFaultRecord[] | null;

  constructor(
    readonly m: Machine,
    record: boolean,
    progress?: ProgressSink,
    compare = false,
  ) {
    this.out = record ? [] : null;
    this.plan = progress === undefined ? null : new ProgressPlan();
    this.meter = progress === undefined ? null : new ProgressMeter(m, progress);
    this.pau = new PinnedAfterUnmap(m);
    traceIommuTrack(m.sim);
    this.mismatches = compare ? [] : null;
    this.dmaFaults = compare ? [] : null;
  }

  /** Replay: compares the result with what the record says (only the fields it has), keeps a mismatch. */
  private check(l: MapLine | UnmapLine, lineNo: number, r: { ret: number; errno: string | null }, sizeOut: string | null): void {
    const rec: IoctlOutcome = { ret: l.ret ?? null, errno: l.errno ?? null, sizeOut: (l as UnmapLine).sizeOut ?? null };
    const got: IoctlOutcome = { ret: r.errno === null ? r.ret : null, errno: r.errno, sizeOut: r.errno === null ? sizeOut : null };
    const differs =
      (rec.errno !== null && got.errno !== rec.errno) ||
      (rec.ret !== null && got.ret !== rec.ret) ||
      (rec.sizeOut !== null && (got.sizeOut === null || BigInt(got.sizeOut) !== BigInt(rec.sizeOut)));
    if (differs) this.mismatches!.push({ line: lineNo, ioctl: l.cmd, iova: l.arg.iova, size: l.arg.size, recorded: rec, replayed: got });
  }

  exec(l: RecordLine, lineNo = 0): void {
    const { sim } = this.m;
    const tr = sim.trace;
    switch (l.op) {
      case 'phase': {
        this.endPhase();
        this.phase = l.name;
        this.phaseStart = sim.clock.now;
        if (tr.on) tr.begin(TRACK, l.name);
        break;
      }
      case 'ioctl': {
        if (l.cmd === 'VFIO_IOMMU_MAP_DMA') {
          const a = l.arg;
          const bytes = encodeDmaMap({
            argsz: a.argsz,
            flags: a.flags,
            vaddr: BigInt(a.vaddr),
            iova: BigInt(a.iova),
            size: BigInt(a.size),
          });
          this.mapIoctls++;
          if (this.meter !== null) this.meter.begin(this.plan!.map(BigInt(a.size)));
          if (tr.on) tr.begin(TRACK, 'VFIO_IOMMU_MAP_DMA', { iova: a.iova, size: a.size });
          const r = this.ioctl(VFIO_IOMMU_MAP_DMA, bytes, l.cmd);
          if (this.meter !== null) this.meter.end();
          if (r.errno === null) this.noteMmio(BigInt(a.vaddr), BigInt(a.iova), BigInt(a.size));
          if (tr.on) tr.end(TRACK, 'VFIO_IOMMU_MAP_DMA', r.errno === null ? {} : { errno: r.errno });
          if (this.mismatches) this.check(l, lineNo, r, null);
          if (this.out) this.out.push(JSON.stringify(r.errno === null ? { ...l, ret: r.ret } : { ...l, errno: r.errno }));
        } else {
          const a = l.arg;
          const bytes = encodeDmaUnmap({ argsz: a.argsz, flags: a.flags, iova: BigInt(a.iova), size: BigInt(a.size) });
          this.unmapIoctls++;
          if (this.meter !== null) this.meter.begin(this.plan!.unmap(BigInt(a.size)));
          if (tr.on) tr.begin(TRACK, 'VFIO_IOMMU_UNMAP_DMA', { iova: a.iova, size: a.size });
          this.pau.inUnmap = true;
          const r = this.ioctl(VFIO_IOMMU_UNMAP_DMA, bytes, l.cmd);
          this.pau.inUnmap = false;
          if (this.meter !== null) this.meter.end();
          if (r.errno === null) this.pau.unmapMmio(Number(BigInt(a.iova) >> 12n), Number((BigInt(a.iova) + BigInt(a.size)) >> 12n));
          const sizeOut = hex(decodeDmaUnmap(bytes).size);
          if (tr.on) tr.end(TRACK, 'VFIO_IOMMU_UNMAP_DMA', r.errno === null ? { size: sizeOut } : { errno: r.errno });
          if (this.mismatches) this.check(l, lineNo, r, sizeOut);
          if (this.out) this.out.push(JSON.stringify(r.errno === null ? { ...l, ret: r.ret, sizeOut } : { ...l, errno: r.errno }));
        }
        break;
      }
      case 'dma': {
        if (tr.on) tr.begin(TRACK, 'dma', { device: l.device, iova: l.iova, pages: l.pages });
        const ok = this.m.drv.dma(l.device, Number(BigInt(l.iova) >> 12n), l.pages, l.dir === 'write');
        // the device stops at its first faulting page (one IO_PAGE_FAULT per DMA line)
        if (!ok && this.dmaFaults !== null && this.dmaFaults.length < DMA_FAULTS_KEPT) {
          const f = this.m.drv.lastFault();
          this.dmaFaults.push({
            line: lineNo,
            device: l.device,
            iova: l.iova,
            pages: l.pages,
            dir: l.dir,
            faultIova: f === null ? l.iova : hex(BigInt(f.page) << 12n),
            event: f?.event ?? 'fault',
          });
        }
        if (tr.on) tr.end(TRACK, 'dma', ok ? {} : { fault: true });
        if (this.meter !== null) this.meter.done();
        if (this.out) this.out.push(JSON.stringify(l));
        break;
      }
      case 'mmap':
      case 'header':
        break;
    }
    if (l.op === 'phase' && this.out) this.out.push(JSON.stringify(l));
    if (tr.on && l.op === 'ioctl' && tr.detail >= TRACE_ALL) {
      const u = sim.mem.usage();
      tr.counter('memory', 'pinned pages', { pages: u.pinnedPages });
      tr.counter('memory', 'page tables', { tables: u.tables });
    }
    this.done++;
  }

  /** Tells the pinned-after-unmap log about a mapping of a BAR mmap (MMIO VMA): its pages are never unpinned. */
  private noteMmio(vaddr: bigint, iova: bigint, size: bigint): void {
    const vmas = this.m.proc.vmas;
    const page = Number(vaddr >> 12n);
    for (let i = 0; i < vmas.length; i++) {
      const v = vmas[i]!;
      if (v.mmio && page >= v.startPage && page < v.endPage) {
        this.pau.mapMmio(Number(iova >> 12n), Number((iova + size) >> 12n));
        return;
      }
    }
  }

  private ioctl(cmd: number, bytes: Uint8Array, name: string): { ret: number; errno: string | null } {
    try {
      return { ret: this.m.container.ioctl(cmd, bytes), errno: null };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (typeof err.code !== 'string') throw e; // a bug in the model, not a kernel error: let it surface
      this.ioctlErrors++;
      if (this.errors.length < 20) this.errors.push({ index: this.done, ioctl: name, code: err.code, message: String(err.message) });
      return { ret: -1, errno: err.code };
    }
  }

  endPhase(): void {
    if (this.phase === null) return;
    const { sim } = this.m;
    this.phaseNs.set(this.phase, (this.phaseNs.get(this.phase) ?? 0) + (sim.clock.now - this.phaseStart));
    // an imported QEMU trace runs as one phase 'trace' (everything before its teardown): its end is the boot's
    if (this.phase === 'boot' || this.phase === 'trace') this.tablesAfterBoot = sim.mem.usage().tables;
    if (sim.trace.on) sim.trace.end(TRACK, this.phase);
    this.phase = null;
  }
}

/** DMA faults kept per case, like the violation and error samples. */
const DMA_FAULTS_KEPT = 20;

/** Turns a workload op into the record line the executor runs. */
function toLine(op: Op, devices: readonly number[]): RecordLine {
  switch (op.op) {
    case 'phase':
      return { op: 'phase', name: op.name };
    case 'map':
      return {
        op: 'ioctl',
        cmd: 'VFIO_IOMMU_MAP_DMA',
        arg: { argsz: DMA_MAP_SIZE, flags: op.flags, vaddr: hex(op.vaddr), iova: hex(op.iova), size: hex(op.size) },
      };
    case 'unmap':
      return { op: 'ioctl', cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { argsz: DMA_UNMAP_SIZE, flags: 0, iova: hex(op.iova), size: hex(op.size) } };
    case 'dma':
      return {
        op: 'dma',
        device: devices[op.device]!,
        iova: hex(BigInt(op.iova) << 12n),
        pages: op.pages,
        dir: op.write ? 'write' : 'read',
      };
  }
}

/** Runs a scenario under its profile. */
export function runCase(scenario: Scenario, label: string, opts: CaseOptions = {}): CaseOutput {
  const r = resolveScenario(scenario);
  const spec = machineSpec(r);
  const m = buildMachine(spec, opts.trace !== undefined);
  opts.onMachine?.(m);
  const w = traceTo(m, opts.trace, label);
  try {
    return runOps(m, r, spec, scenario, label, opts, w);
  } catch (e) {
    w?.abort();
    throw e;
  }
}

function runOps(
  m: Machine,
  r: Resolved,
  spec: MachineSpec,
  scenario: Scenario,
  label: string,
  opts: CaseOptions,
  w: TraceWriter | null,
): CaseOutput {
  const ex = new Executor(m, opts.record ?? false, opts.progress);
  if (ex.out) {
    const header: HeaderLine = { op: 'header', format: REPLAY_FORMAT, version: REPLAY_VERSION, label, machine: spec, scenario };
    ex.out.push(JSON.stringify(header));
  }
  // guest RAM first, then what a firmware boot maps besides it: the ROM RAMBlocks (small anonymous
  // memory: 4 KiB pages) and the GPU's BAR mmaps (device MMIO), as QEMU has them before the guest runs
  const vmas = new Map<RegionName, bigint>();
  const regions: { name: RegionName; size: bigint; backing: MmapLine['backing'] }[] = [
    { name: 'pc.ram', size: r.guestBytes, backing: r.backing },
  ];
  for (const x of r.boot?.regions ?? []) regions.push({ name: x.name, size: x.size, backing: x.kind === 'mmio' ? 'mmio' : '4k' });
  if (scenario.workload === 'bar-map') regions.push({ name: 'gpu.bar1', size: r.barBytes, backing: 'mmio' });
  for (const x of regions) {
    let vaddr: bigint;
    try {
      // guest RAM may be left for the first pin to fault in (--populate off); ROMs and BARs are present
      vaddr = m.proc.mmap(x.size, { backing: x.backing, populate: x.name === 'pc.ram' ? r.populate : true });
    } catch (e) {
      // the host allocator could not back the guest (no free 1 GiB regions left, ...): a scenario problem
      const err = e as { code?: string; message?: string };
      if (err.code === 'ENOMEM' || err.code === 'EINVAL')
        throw new UsageError(
          '--host-memory',
          `the host cannot back the guest's ${x.name === 'pc.ram' ? 'RAM' : `${x.name} (${x.size >> 10n} KiB)`}: ${String(err.message)}`,
        );
      throw e;
    }
    vmas.set(x.name, vaddr);
    // guest RAM's line has no name (records before firmware boots had only that one)
    // populate only when false (absent = true), so default records keep their mmap lines
    if (ex.out) {
      ex.out.push(
        JSON.stringify({
          op: 'mmap',
          ...(x.name === 'pc.ram' ? {} : { name: x.name }),
          size: hex(x.size),
          backing: x.backing,
          vaddr: hex(vaddr),
          ...(x.name === 'pc.ram' && !r.populate ? { populate: false } : {}),
        }),
      );
    }
  }
  if (opts.progress !== undefined) {
    // the workload is a seeded stream: a dry pass totals it (only when progress is shown)
    const plan = new ProgressPlan();
    let pages = 0,
      ops = 0;
    for (const op of workload(r, vmas, m.deviceIds.length)) {
      if (op.op === 'phase') continue;
      ops++;
      if (op.op === 'map') pages += plan.map(op.size);
      else if (op.op === 'unmap') pages += plan.unmap(op.size);
    }
    opts.progress.start({ pages, ops });
  }
  for (const op of workload(r, vmas, m.deviceIds.length)) ex.exec(toLine(op, m.deviceIds));
  ex.endPhase();
  return finish(m, ex, label, scenario, r, w);
}

/** Points the sim's tracer at a writer streaming to the case's file (null without --trace); a failed write stops the tracing. */
function traceTo(m: Machine, spec: TraceSpec | undefined, label: string): TraceWriter | null {
  if (spec === undefined) return null;
  const tr = m.sim.trace;
  tr.detail = spec.detail;
  const w = new TraceWriter(spec, label, TRACE_DETAILS[spec.detail - 1]!, () => {
    tr.on = false;
  });
  tr.sink = (e) => {
    w.write(e);
  };
  return w;
}

/**
 * Replays a parsed record against a freshly built machine (optionally under another profile) and
 * compares every ioctl's result with the recorded one (`lineNos[i]`: file line of `lines[i]`).
 */
export function replayCase(
  header: HeaderLine,
  lines: readonly RecordLine[],
  label: string,
  opts: CaseOptions = {},
  lineNos: readonly number[] = [],
  file = 'replay',
): CaseOutput {
  const m = buildMachine(header.machine, opts.trace !== undefined);
  opts.onMachine?.(m);
  const w = traceTo(m, opts.trace, label);
  try {
    return replayLines(m, header, lines, label, opts, lineNos, file, w);
  } catch (e) {
    w?.abort();
    throw e;
  }
}

function replayLines(
  m: Machine,
  header: HeaderLine,
  lines: readonly RecordLine[],
  label: string,
  opts: CaseOptions,
  lineNos: readonly number[],
  file: string,
  w: TraceWriter | null,
): CaseOutput {
  const ex = new Executor(m, opts.record ?? false, opts.progress, true);
  if (opts.progress !== undefined) {
    const plan = new ProgressPlan();
    let pages = 0,
      ops = 0;
    for (const l of lines) {
      if (l.op === 'dma') ops++;
      if (l.op !== 'ioctl') continue;
      ops++;
      pages += l.cmd === 'VFIO_IOMMU_MAP_DMA' ? plan.map(BigInt(l.arg.size)) : plan.unmap(BigInt(l.arg.size));
    }
    opts.progress.start({ pages, ops });
  }
  if (ex.out) ex.out.push(JSON.stringify({ ...header, label }));
  let r: Resolved | null = null;
  if (header.scenario !== null) r = resolveScenario(header.scenario);
  const devices = new Set(m.deviceIds);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const where = `${file}:${lineNos[i] ?? '?'}`;
    if (l.op === 'mmap') {
      let vaddr: bigint;
      try {
        vaddr = m.proc.mmap(BigInt(l.size), { backing: l.backing, populate: l.populate ?? true });
      } catch (e) {
        // ENOMEM (the host cannot back it), EINVAL (a hugetlbfs length that is not a multiple of the huge page)
        const err = e as { code?: string; message?: string };
        if (typeof err.code !== 'string') throw e;
        throw new UsageError(
          where,
          `mmap of ${l.size} bytes (${l.backing}) failed: ${String(err.message)}${err.code === 'ENOMEM' ? ` (machine.hostMemory is ${header.machine.hostMemory} bytes)` : ''}`,
        );
      }
      if (l.vaddr !== undefined && BigInt(l.vaddr) !== vaddr) {
        // every later MAP_DMA vaddr would point elsewhere: stop rather than report each call
        throw new UsageError(where, `mmap returned ${hex(vaddr)}, the record says ${l.vaddr}; the process layout differs`);
      }
      if (ex.out) ex.out.push(JSON.stringify({ ...l, vaddr: hex(vaddr) }));
      continue;
    }
    // a device the header's machine does not have is a broken file, not a DMA that faults
    if (l.op === 'dma' && !devices.has(l.device)) {
      throw new UsageError(where, `dma device ${l.device} is not one of the machine's devices (${m.deviceIds.join(', ')})`);
    }
    ex.exec(l, lineNos[i] ?? 0);
  }
  ex.endPhase();
  return finish(m, ex, label, header.scenario, r, w);
}

function finish(m: Machine, ex: Executor, label: string, scenario: Scenario | null, r: Resolved | null, w: TraceWriter | null): CaseOutput {
  const { sim } = m;
  const counters = sim.counters;
  const timeNs = sim.meter.timeSnapshot();
  const st = collectStats(m.container.stats());
  const cmds = m.drv.commands();
  const v = sim.violations;
  const invalidations =
    cmds !== null ? (cmds.INVALIDATE_IOMMU_PAGES ?? 0) + (cmds.INVALIDATE_IOMMU_ALL ?? 0) : (counters.invalidations ?? 0);
  const completionWaits = cmds !== null ? (cmds.COMPLETION_WAIT ?? 0) : (counters.completionWaits ?? 0);
  const metrics: Metrics = {
    mapIoctls: ex.mapIoctls,
    unmapIoctls: ex.unmapIoctls,
    ioctlErrors: ex.ioctlErrors,
    unmapCalls: st.unmapCalls,
    regionsPerCall: st.regionsPerCall,
    regions: st.regions,
    iotlbSyncs: st.syncs,
    fallbacks: st.fallbacks,
    mapTryHarder: st.mapTryHarder,
    invalidations,
    completionWaits,
    pteWrites: counters.pteWrites ?? 0,
    pteClears: counters.pteClears ?? 0,
    tableAllocs: counters.tableAllocs ?? 0,
    tableFrees: counters.tableFrees ?? 0,
    tablesAfterBoot: Math.max(0, ex.tablesAfterBoot),
    pins: counters.pins ?? 0,
    unpins: counters.unpins ?? 0,
    peakQueuedRegions: st.peakQueuedRegions,
    peakQueuedBytes: st.peakQueuedBytes,
    peakPinnedAfterUnmapBytes: ex.pau.peakPages * 4096,
    pinnedAfterUnmapMeanNs: ex.pau.meanNs(),
    pinnedAfterUnmapMaxNs: ex.pau.maxNs,
    dmaPages: counters.dmaPages ?? 0,
    iotlbHits: counters.iotlbHits ?? 0,
    iotlbMisses: counters.iotlbMisses ?? 0,
    ioPageFaults: m.drv.faults(),
    violations: v.length + sim.checker.dropped,
    modeledNs: sim.clock.now,
    phaseNs: Object.fromEntries(ex.phaseNs),
  };
  const result: CaseResult = {
    label,
    scenario,
    layout: r === null ? [] : r.blocks.map((b) => ({ name: b.name, iova: hex(b.gpa), size: hex(b.size) })),
    metrics,
    counters,
    timeNs,
    commands: cmds,
    vfioStats: st.raw,
    violationSamples: v
      .slice(0, 20)
      .map(
        (x): ViolationRecord => ({ kind: x.kind, pfn: x.pfn, iova: x.iova, domain: x.domain, via: x.via, call: x.call, detail: x.detail }),
      ),
    errorSamples: ex.errors,
    mismatches: ex.mismatches,
    dmaFaults: ex.dmaFaults,
  };
  return { result, trace: w === null ? null : w.close(), record: ex.out };
}
