// @x/vfio-type1/internals: the type1 backend's own structures, for tools that inspect them.
// Not for VFIO users: names here may change in any minor release.
export { MMIO_PFN_BASE } from './mm.js';
export { VfioDma, DmaTree } from './dma.js';
export { VFIO_REGION_BYTES } from './iommu.js';
export { domainLeaves } from './checker.js';
