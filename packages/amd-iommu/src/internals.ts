// @x/amd-iommu/internals: the codec, command encoders and hardware pieces the driver is built from.
// Not for users of the driver: names here may change in any minor release.
export { CMD_SEM_ADDR } from './driver.js';
export { ptPolicyOf } from './profiles.js';
export {
  createAmdv1Format,
  AMDV1_PR,
  AMDV1_A,
  AMDV1_D,
  AMDV1_NL_SHIFT,
  AMDV1_NL_LARGE,
  AMDV1_HI_U,
  AMDV1_HI_FC,
  AMDV1_HI_IR,
  AMDV1_HI_IW,
  AMDV1_MAX_LEVEL,
  AMDV1_TOP_INDEX_BITS,
  AMDV1_MAX_OA_ORDER,
  AMDV1_HOLE_ORDER,
  trailingOnes,
  largeLeafOrder,
  replicaCount,
  pteBigInt,
  pteStore,
  entryPfnField,
  entryNextLevel,
  amdv1IsDirty,
  amdv1MakeClean,
  amdv1MakeDirty,
  type Amdv1Options,
} from './fmt-amdv1.js';
export {
  CMD_COMPLETION_WAIT,
  CMD_INV_DEVTAB_ENTRY,
  CMD_INV_IOMMU_PAGES,
  CMD_INV_IOTLB_PAGES,
  CMD_INV_INTERRUPT_TABLE,
  CMD_PREFETCH_IOMMU_PAGES,
  CMD_COMPLETE_PPR_REQUEST,
  CMD_INV_IOMMU_ALL,
  CW_S,
  CW_I,
  CW_F,
  INV_S,
  INV_PDE,
  INV_GN,
  INV_ALL_PAGES,
  buildCompletionWait,
  buildInvDte,
  buildInvIommuPages,
  buildInvIotlbPages,
  buildInvAll,
  cmdBigInt,
  cmdOpcode,
  invAddress2018,
  buildInvAddress,
  decodeInvAddress,
  type InvAddress,
  type InvRange,
} from './hw/commands.js';
export { CmdRing, CMD_RING_ENTRIES } from './hw/cmd-ring.js';
export { DeviceTable, DTE_V, DTE_TV, DTE_HI_IR, DTE_HI_IW, DTE_MODE_SHIFT, type DteFields } from './hw/dte.js';
export { EventLog } from './hw/event-log.js';
export { walk, WalkResult } from './hw/walk.js';
export { AmdIommuHw, AMD_COSTS, type AmdHwOptions } from './hw/iommu.js';
