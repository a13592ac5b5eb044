// @x/iommu-core/internals: the engine pieces drivers, the VFIO backend and the CLI build on.
// Not for users of the API: names here may change in any minor release.
export { FRAME_FREE, FRAME_KERNEL, FRAME_USER } from './physmem.js';
export { TABLE_PFN_BASE, TABLE_WORDS } from './mem/arena.js';
export { BlockedInt32, COUNT8_SPILLED, PagedCount8, PagedInt32, PagedUint8 } from './mem/paged.js';
export { bitmapOrders, domainSetPgsizeBitmap, driverDomain } from './ops.js';
export { ctz, fls, pgsizeCount, POW2, type PgsizeCountOut } from './pgsize.js';
export {
  PT_ENTRY_EMPTY,
  PT_ENTRY_TABLE,
  PT_ENTRY_OA,
  LEAF4K_CARRY,
  P9,
  PtState,
  clearEntries,
  type PtFormat,
} from './pagetable/format.js';
export { PtGeometry } from './pagetable/geometry.js';
export { PageTable, PtLookup } from './pagetable/table.js';
export type { PtPolicy } from './pagetable/policy.js';
export { iommuPtDomainOps } from './pt-iommu/domain-ops.js';
export { ptTestConfig } from './pt-iommu/test-domain.js';
export {
  PT_IOMMU_MODEL_OPS,
  ptIommuInit,
  ptIommuDeinit,
  type PtIommuConfig,
  type PtIommuDomain,
  type PtIommuDriverOps,
} from './pt-iommu/iommu.js';
export { createRefFormat } from './pagetable/fmt-ref.js';
export { Iotlb } from './iotlb.js';
export { REF_POLICY } from './ref-driver.js';
export { SimClock } from './sim/clock.js';
export { Meter, EV } from './sim/meter.js';
export { CORE_COSTS } from './sim/cost.js';
export { Prng } from './sim/prng.js';
export { SafetyChecker, type Reacher } from './sim/checker.js';
export { timelineMarkdown, withTimelineTable, TIMELINE_BEGIN, TIMELINE_END, sortTimeline } from './timeline/index.js';
export { deepFreeze } from './freeze.js';
