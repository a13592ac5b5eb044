// @x/iommu-core public API (named exports only).
export { ERRNO, errnoName, SysError, IommuError, isSysError, isIommuError, type ErrnoCode } from './errno.js';
export { createSim, Sim, type SimOptions, type SimCounters, type SimCostTable } from './sim.js';
export { PhysMem } from './physmem.js';
export { backingPfn, parseBacking, isBackingProfile, BACKING_PROFILES, type Backing, type BackingProfile } from './mem/backing.js';
export {
  iommuMap,
  iommuUnmap,
  iommuUnmapFast,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuFlushIotlbAll,
  iommuIovaToPhys,
  iommuPgsize,
  iommuPgsizeCount,
} from './api.js';
export {
  createIotlbGather,
  IotlbGather,
  iommuIotlbGatherAddPage,
  iommuIotlbGatherAddRange,
  iommuIotlbGatherIsDisjoint,
} from './gather.js';
export {
  IOMMU_READ,
  IOMMU_WRITE,
  IOMMU_CACHE,
  IOMMU_NOEXEC,
  IOMMU_MMIO,
  IOMMU_PRIV,
  SZ_4K,
  SZ_2M,
  SZ_1G,
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_DOMAIN_DMA,
  __IOMMU_DOMAIN_PAGING,
  IOMMU_CAP_CACHE_COHERENCY,
  IOMMU_CAP_INTR_REMAP,
  IOMMU_CAP_NOEXEC,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_RESV_DIRECT,
  IOMMU_RESV_DIRECT_RELAXABLE,
  IOMMU_RESV_RESERVED,
  IOMMU_RESV_MSI,
  IOMMU_RESV_SW_MSI,
  domainMarkFreed,
  type IommuDomain,
  type IommuOps,
  type IommuModelOps,
  type IommuDriver,
  type ResvRegion,
  type DomainGeometry,
} from './ops.js';
export type { IotlbPolicy } from './iotlb.js';
export { SimObservers, type IommuObserver } from './observe.js';
export { createReferenceDriver, ReferenceDriver, type RefDriverOptions, type DmaFault, type RefDomain } from './ref-driver.js';
export type { CostEntry, CoreEvent } from './sim/cost.js';
export {
  MACHINES,
  MACHINE_NAMES,
  DEFAULT_MACHINE,
  HW_EVENTS,
  MAX_EVENT_NS,
  isMachineName,
  machineError,
  machineProfile,
  machineCosts,
  costError,
  type MachineProfile,
} from './sim/machines.js';
export type { Violation, ViolationKind, ViolationKinds } from './sim/checker.js';
export { TRACE_ALL, TRACE_IOCTL, TRACE_IOMMU, Tracer, traceIova, type TraceEvent, type TraceSink } from './trace.js';
export {
  RELEASES,
  OLDEST_RELEASE,
  NEWEST_RELEASE,
  releaseIndex,
  isReleaseName,
  releaseError,
  parseRelease,
  releaseAtLeast,
  previousRelease,
  entriesAt,
  timelineFlags,
  timelineDiff,
  namedReleases,
  KEY_RELEASES,
  CORE_TIMELINE,
  ENTRY_IDS,
  isProfileName,
  profileError,
  parseProfile,
  type ProfileName,
  type ParsedProfile,
  type Release,
  type ReleaseName,
  type TimelineEntry,
  type TimelineComponent,
  type TimelineDiff,
  type CoreEntryId,
} from './timeline/index.js';
