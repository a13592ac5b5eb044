// Models a VFIO container fd (drivers/vfio/container.c) with the type1 backend behind it
// (vfio_iommu_type1_ioctl): GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU, GET_INFO, MAP_DMA and
// UNMAP_DMA, both typed and as raw little-endian structs, with every check of the profile's era.

import { IOMMU_CACHE, errnoName, type Sim, type Violation } from '@x/iommu-core';
import { vfioIommuType1AttachGroup, vfioIommuType1DetachGroup } from './attach.js';
import { checkAccounting, checkDeep, checkDomainEmpty, checkReleased } from './checker.js';
import { VfioError } from './errors.js';
import { VfioIommu, type IommuGroup } from './iommu.js';
import { vfioIommuType1GetInfo, vfioIommuType1MapDma, vfioIommuType1UnmapDma } from './ioctl.js';
import type { Process } from './mm.js';
import { profileSpec, type Profile, type ProfileSpec, type TryHarder, type UnmapPath } from './profiles.js';
import type { VfioStats } from './stats.js';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  INFO_SIZE,
  decodeInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
  type DmaMap,
  type DmaUnmap,
  type IommuInfo,
} from './uapi.js';

/**
 * struct vfio_group as the container sees it: an iommu group and the container it is set to. A
 * Group (group.ts) is one; declared here so that the container does not import the group's module.
 */
export interface VfioGroup extends IommuGroup {
  container: Container | null;
}

/** What a container needs of its host: the machine, and every open container (locked_vm is per process). Host is one. */
export interface ContainerHost {
  readonly sim: Sim;
  readonly containers: Container[];
}

/** openContainer() options; a property set to undefined is the same as one left out. */
export interface ContainerOptions {
  /**
   * Kernel release: any 'vX.Y' from v3.19 to the newest modelled release, or 'mainline'. Default
   * 'mainline', as for every factory of these packages.
   */
  profile?: Profile | undefined;
  /**
   * Accept groups whose IOMMU driver models another release than the container (a driver without a
   * release is always accepted). Default false: VFIO_GROUP_SET_CONTAINER then throws RangeError
   * naming both releases, since no real kernel runs two releases at once.
   */
  mixReleases?: boolean | undefined;
  /** Unmap path; default from the release (slow before v4.17, fast v4.17-v5.3, mainline = the gather, v5.4+). */
  unmapPath?: UnmapPath | undefined;
  /** VFIO_IOMMU_TLB_SYNC_MAX: regions queued per sync on the fast/mainline paths. Default 512. */
  tlbSyncMax?: number | undefined;
  /** dma_entry_limit module parameter (v5.1+ only). Default 65535. */
  dmaEntryLimit?: number | undefined;
  /** disable_hugepages module parameter: pin and map one page per chunk. Default false. */
  disableHugepages?: boolean | undefined;
  /** allow_unsafe_interrupts module parameter. Default false. */
  allowUnsafeInterrupts?: boolean | undefined;
  /** map_try_harder() unwind variant, or false to leave it out; default 'landed' before v5.0, absent after. */
  mapTryHarder?: TryHarder | false | undefined;
}

/** A mapping as the container holds it (bytes). */
export interface MappingInfo {
  iova: bigint;
  vaddr: bigint;
  size: bigint;
  prot: number;
  lockedPages: number;
}

const U32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** The container ioctls this model handles, by number: their names are the errors' `syscall`. */
const IOCTL_NAMES: ReadonlyMap<number, string> = new Map([
  [VFIO_GET_API_VERSION, 'VFIO_GET_API_VERSION'],
  [VFIO_CHECK_EXTENSION, 'VFIO_CHECK_EXTENSION'],
  [VFIO_SET_IOMMU, 'VFIO_SET_IOMMU'],
  [VFIO_IOMMU_GET_INFO, 'VFIO_IOMMU_GET_INFO'],
  [VFIO_IOMMU_MAP_DMA, 'VFIO_IOMMU_MAP_DMA'],
  [VFIO_IOMMU_UNMAP_DMA, 'VFIO_IOMMU_UNMAP_DMA'],
]);

/** `syscall` of an ioctl's errors: its name when handled here, else `ioctl(0x3b73)`. cmd is a u32. */
function ioctlName(cmd: number): string {
  return IOCTL_NAMES.get(cmd) ?? `ioctl(0x${cmd.toString(16)})`;
}

export class Container {
  readonly spec: ProfileSpec;
  readonly groups: VfioGroup[] = [];
  /** The type1 instance, after SET_IOMMU; null before and after the last group left. */
  iommu: VfioIommu | null = null;
  closed = false;
  private readonly unmapPath: UnmapPath;
  private readonly tryHarder: TryHarder | null;
  private readonly tlbSyncMax: number;
  private readonly dmaEntryLimit: number;
  private lastStats: VfioStats | null = null;

  constructor(
    readonly host: ContainerHost,
    readonly proc: Process,
    readonly opts: ContainerOptions = {},
  ) {
    this.spec = profileSpec(opts.profile ?? 'mainline');
    this.unmapPath = opts.unmapPath ?? this.spec.unmapPath;
    if (!['slow', 'fast', 'mainline'].includes(this.unmapPath))
      throw new RangeError(`unknown unmapPath '${this.unmapPath}' (slow, fast, mainline)`);
    this.tryHarder = opts.mapTryHarder === undefined ? this.spec.tryHarder : opts.mapTryHarder === false ? null : opts.mapTryHarder;
    if (this.tryHarder !== null && !['landed', 'rfc-v2', 'suggested'].includes(this.tryHarder)) {
      throw new RangeError(`unknown mapTryHarder '${String(this.tryHarder)}' (landed, rfc-v2, suggested, false)`);
    }
    this.tlbSyncMax = opts.tlbSyncMax ?? 512;
    if (!(Number.isInteger(this.tlbSyncMax) && this.tlbSyncMax >= 1))
      throw new RangeError(`tlbSyncMax must be an integer >= 1, got ${this.tlbSyncMax}`);
    if (opts.dmaEntryLimit !== undefined && !this.spec.dmaEntryLimit) {
      throw new RangeError(`dmaEntryLimit is not a parameter of ${this.spec.name} (dma_entry_limit came in v5.1)`);
    }
    this.dmaEntryLimit = opts.dmaEntryLimit ?? 65535;
    if (!U32(this.dmaEntryLimit)) throw new RangeError(`dmaEntryLimit must be a u32, got ${this.dmaEntryLimit}`);
  }

  get profile(): Profile {
    return this.spec.name;
  }

  /**
   * Raw ioctl on the container fd: arg is the struct as bytes (GET_INFO/MAP/UNMAP; outputs written
   * back) or an integer. The bytes go in as they are: the kernel's checks decide. cmd must be an
   * ioctl number (an integer in 0..2^32-1, the kernel's `unsigned int cmd`): RangeError / TypeError
   * otherwise, before anything happens.
   */
  ioctl(cmd: number, arg: Uint8Array | number = 0): number {
    if (typeof cmd !== 'number') throw new TypeError(`ioctl: the request must be an ioctl number, got ${typeof cmd}`);
    if (!U32(cmd)) throw new RangeError(`ioctl: request ${cmd} is not an ioctl number (an integer in 0 to 0xffffffff)`);
    this.live(ioctlName(cmd));
    switch (cmd) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        return this.checkExtension(typeof arg === 'number' ? arg : 0);
      case VFIO_SET_IOMMU:
        this.setIommu(typeof arg === 'number' ? arg : -1);
        return 0;
      default:
        break;
    }
    const name = ioctlName(cmd);
    const iommu = this.iommu;
    if (iommu === null) throw new VfioError('EINVAL', name, 'no IOMMU driver set on the container');
    if (cmd !== VFIO_IOMMU_MAP_DMA && cmd !== VFIO_IOMMU_UNMAP_DMA && cmd !== VFIO_IOMMU_GET_INFO) {
      throw new VfioError('ENOTTY', name, 'type1 does not handle this ioctl');
    }
    if (!(arg instanceof Uint8Array)) throw new VfioError('EFAULT', name, 'argument is not a user buffer');
    const sim = this.host.sim;
    sim.meter.charge(iommu.evIoctl, 1);
    sim.checker.enter(name);
    const tr = sim.trace;
    if (tr.on) tr.begin('vfio', name);
    try {
      let r: number;
      if (cmd === VFIO_IOMMU_MAP_DMA) r = vfioIommuType1MapDma(iommu, arg);
      else if (cmd === VFIO_IOMMU_UNMAP_DMA) r = vfioIommuType1UnmapDma(iommu, arg);
      else r = vfioIommuType1GetInfo(iommu, arg);
      if (r < 0) throw new VfioError(errnoName(r), name, deepReason(r));
      return r;
    } catch (e) {
      if (e instanceof VfioError && cmd !== VFIO_IOMMU_GET_INFO) iommu.stats.errors++;
      throw e;
    } finally {
      if (cmd !== VFIO_IOMMU_GET_INFO) this.checkAccounting();
      if (tr.on) tr.end('vfio', name);
      sim.checker.leave();
    }
  }

  /** VFIO_GET_API_VERSION. */
  getApiVersion(): number {
    return this.ioctl(VFIO_GET_API_VERSION);
  }

  /** VFIO_CHECK_EXTENSION: 1 when the extension is supported in this era (and state), else 0. */
  checkExtension(ext: number): 0 | 1 {
    this.live('VFIO_CHECK_EXTENSION');
    const iommu = this.iommu,
      s = this.spec;
    switch (ext) {
      case VFIO_TYPE1_IOMMU:
      case VFIO_TYPE1v2_IOMMU:
        return 1;
      case VFIO_TYPE1_NESTING_IOMMU:
        return s.nesting ? 1 : 0;
      case VFIO_UNMAP_ALL:
        return s.unmapAllExt ? 1 : 0;
      case VFIO_UPDATE_VADDR:
        return s.unmapAllExt && iommu !== null ? 1 : 0;
      case VFIO_DMA_CC_IOMMU:
        if (iommu === null) return 0;
        return iommu.domains.every((d) => (d.prot & IOMMU_CACHE) !== 0) ? 1 : 0;
      default:
        return 0;
    }
  }

  /** VFIO_GROUP_SET_CONTAINER: adds a group; attaches it at once when the IOMMU is already set. */
  addGroup(g: VfioGroup): void {
    const sc = 'VFIO_GROUP_SET_CONTAINER';
    this.live(sc);
    if (g.container !== null) throw new VfioError('EINVAL', sc, `group ${g.id} is already set to a container`);
    const r = g.drv.release;
    if (r !== undefined && r !== this.spec.release && this.opts.mixReleases !== true) {
      throw new RangeError(
        `group ${g.id}'s IOMMU driver ${g.drv.name} models ${r} but the container models ${this.spec.release}` +
          `${this.spec.name === 'mainline' ? ' (mainline)' : ''}: create both for one release, or pass mixReleases: true to openContainer`,
      );
    }
    const iommu = this.iommu;
    if (iommu !== null) this.tracked(sc, () => vfioIommuType1AttachGroup(iommu, g));
    g.container = this;
    this.groups.push(g);
  }

  /** VFIO_GROUP_UNSET_CONTAINER: detaches a group; the last one takes every mapping with it. */
  removeGroup(g: VfioGroup): void {
    const sc = 'VFIO_GROUP_UNSET_CONTAINER';
    this.live(sc);
    if (g.container !== this) throw new VfioError('EINVAL', sc, `group ${g.id} is not in this container`);
    const chk = this.host.sim.checker;
    chk.enter(sc);
    try {
      this.detach(g);
      this.checkAccounting();
    } finally {
      chk.leave();
    }
  }

  /** VFIO_SET_IOMMU(type): type1 (v1) or type1v2; EINVAL without groups or when already set, ENODEV for other types. */
  setIommu(type: number): void {
    const sc = 'VFIO_SET_IOMMU';
    this.live(sc);
    if (this.groups.length === 0 || this.iommu !== null) {
      throw new VfioError('EINVAL', sc, this.iommu !== null ? 'an IOMMU driver is already set' : 'the container has no group');
    }
    if (this.checkExtension(type) <= 0) throw new VfioError('ENODEV', sc, `no IOMMU driver supports type ${type}`);
    const iommu = new VfioIommu({
      sim: this.host.sim,
      proc: this.proc,
      spec: this.spec,
      v2: type !== VFIO_TYPE1_IOMMU,
      unmapPath: this.unmapPath,
      tryHarder: this.tryHarder,
      tlbSyncMax: this.tlbSyncMax,
      disableHugepages: this.opts.disableHugepages ?? false,
      allowUnsafeInterrupts: this.opts.allowUnsafeInterrupts ?? false,
      dmaEntryLimit: this.dmaEntryLimit,
    });
    const done: VfioGroup[] = [];
    for (const g of this.groups) {
      const r = vfioIommuType1AttachGroup(iommu, g);
      if (r !== 0) {
        for (let k = done.length - 1; k >= 0; k--) vfioIommuType1DetachGroup(iommu, done[k]!, (d) => checkDomainEmpty(iommu, d.dom, sc));
        throw new VfioError(errnoName(r), sc, `attaching group ${g.id} failed`);
      }
      done.push(g);
    }
    this.iommu = iommu;
  }

  /**
   * VFIO_IOMMU_MAP_DMA. Throws VfioError; a failed call leaves no trace. A field its uapi field cannot
   * hold (see DmaMap) is a TypeError / RangeError thrown before the ioctl (encodeDmaMap).
   */
  mapDma(m: DmaMap): void {
    this.ioctl(VFIO_IOMMU_MAP_DMA, encodeDmaMap(m));
  }

  /**
   * VFIO_IOMMU_UNMAP_DMA: returns the bytes unmapped (may exceed the request in v1, 0 when nothing
   * was mapped). Fields checked as in mapDma (encodeDmaUnmap).
   */
  unmapDma(u: DmaUnmap): { size: bigint } {
    const b = encodeDmaUnmap(u);
    this.ioctl(VFIO_IOMMU_UNMAP_DMA, b);
    return { size: new DataView(b.buffer).getBigUint64(16, true) };
  }

  /** VFIO_IOMMU_GET_INFO, asking again with the argsz the kernel wants when capabilities do not fit. */
  getInfo(): IommuInfo {
    let b = encodeInfoRequest(INFO_SIZE);
    this.ioctl(VFIO_IOMMU_GET_INFO, b);
    let info = decodeInfo(b);
    if ((info.flags & VFIO_IOMMU_INFO_CAPS) !== 0 && info.argsz > INFO_SIZE) {
      b = encodeInfoRequest(info.argsz);
      this.ioctl(VFIO_IOMMU_GET_INFO, b);
      info = decodeInfo(b);
    }
    if ((info.flags & VFIO_IOMMU_INFO_CAPS) === 0) {
      delete info.capOffset;
      info.argsz = INFO_SIZE;
    }
    return info;
  }

  /** Counters of this container (kept after close). */
  stats(): VfioStats {
    const iommu = this.iommu;
    if (iommu !== null) return iommu.stats.snapshot();
    if (this.lastStats !== null) return this.lastStats.snapshot();
    throw new VfioError('EINVAL', 'stats', 'no IOMMU driver set on the container');
  }

  /** The container's mappings, ascending (bytes). */
  mappings(): MappingInfo[] {
    const iommu = this.iommu;
    if (iommu === null) return [];
    return iommu.dmas.list.map((d) => ({
      iova: BigInt(d.iova) << 12n,
      vaddr: BigInt(d.vaddr) << 12n,
      size: BigInt(d.size) << 12n,
      prot: d.prot,
      lockedPages: d.lockedPages,
    }));
  }

  /** dma_avail (entries left before ENOSPC). */
  get dmaAvail(): number {
    return this.iommu?.dmaAvail ?? this.dmaEntryLimit;
  }

  /** Runs the full checker walk now; returns the violations it added. */
  check(): Violation[] {
    const chk = this.host.sim.checker,
      n0 = chk.violations.length;
    this.checkAccounting();
    if (this.iommu !== null) checkDeep(this.iommu);
    return chk.violations.slice(n0);
  }

  /** close(): detaches every group, which removes every mapping and pin; checks nothing is left. */
  close(): void {
    if (this.closed) return;
    const chk = this.host.sim.checker;
    chk.enter('close');
    try {
      for (const g of [...this.groups]) this.detach(g);
      this.checkAccounting();
    } finally {
      chk.leave();
    }
    this.closed = true;
    const i = this.host.containers.indexOf(this);
    if (i >= 0) this.host.containers.splice(i, 1);
  }

  private detach(g: VfioGroup): void {
    const iommu = this.iommu;
    if (iommu !== null) {
      vfioIommuType1DetachGroup(iommu, g, (d) => checkDomainEmpty(iommu, d.dom, 'domain free'));
    }
    this.groups.splice(this.groups.indexOf(g), 1);
    g.container = null;
    if (iommu !== null && this.groups.length === 0) {
      checkReleased(iommu);
      this.lastStats = iommu.stats.snapshot();
      this.iommu = null;
    }
  }

  /** The accounting check after a call: this container's pins against its charges, the process's locked_vm against all its containers'. */
  private checkAccounting(): void {
    checkAccounting(this.host.sim.checker, this.iommu, this.proc, this.host.containers);
  }

  private tracked(sc: string, f: () => number): void {
    const chk = this.host.sim.checker;
    chk.enter(sc);
    try {
      const r = f();
      if (r !== 0) throw new VfioError(errnoName(r), sc, `attach failed (${errnoName(r)})`);
    } finally {
      this.checkAccounting();
      chk.leave();
    }
  }

  /** EBADF once closed; `syscall` names the ioctl that was attempted ('VFIO_IOMMU_MAP_DMA', ...). */
  private live(syscall: string): void {
    if (this.closed) throw new VfioError('EBADF', syscall, 'container fd is closed');
  }
}

function deepReason(r: number): string {
  switch (errnoName(r)) {
    case 'ENOMEM':
      return 'RLIMIT_MEMLOCK exceeded or allocation failure while pinning/mapping';
    case 'EFAULT':
      return 'a page of the vaddr range could not be pinned, or the IOMMU refused the address';
    case 'EBUSY':
      return 'the IOMMU refused to map over an existing mapping';
    default:
      return 'the IOMMU driver failed the map';
  }
}
