// @x/vfio-type1 public API (named exports only).
export { Host, type AddGroupOptions } from './host.js';
export { Group } from './group.js';
export { Process, Vma, type MmapBacking, type MmapOptions, type SpawnOptions, type MmHost } from './mm.js';
export { Container, type ContainerOptions, type MappingInfo, type VfioGroup, type ContainerHost } from './container.js';
export { VfioError, isVfioError } from './errors.js';
// the base class of VfioError and the core's IommuError: `e instanceof SysError` catches both
export { SysError } from '@x/iommu-core';
export {
  PROFILES,
  PROFILE_NAMES,
  profileSpec,
  type Profile,
  type ProfileSpec,
  type UnmapPath,
  type TryHarder,
  type PfnmapStep,
} from './profiles.js';
export { VFIO_TIMELINE, type VfioEntryId } from './timeline.js';
export { VfioStats } from './stats.js';
export { VfioIommu, VfioDomain, type IovaNode, type IommuGroup, type VfioIommuOptions } from './iommu.js';
export {
  VFIO_API_VERSION,
  VFIO_GET_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_SET_IOMMU,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_TYPE1_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_DMA_CC_IOMMU,
  VFIO_EEH,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  VFIO_NOIOMMU_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  DMA_MAP_MINSZ,
  DMA_UNMAP_MINSZ,
  DMA_UNMAP_BITMAP_MINSZ,
  INFO_MINSZ,
  INFO_SIZE,
  encodeDmaMap,
  decodeDmaMap,
  encodeDmaUnmap,
  decodeDmaUnmap,
  encodeInfoRequest,
  decodeInfo,
  type DmaMap,
  type DmaUnmap,
  type IommuInfo,
  type IovaRange,
} from './uapi.js';
