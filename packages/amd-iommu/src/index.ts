// @x/amd-iommu public API (named exports only).
export { createAmdIommu, AmdIommu, CMD_SEM_ADDR, type AmdIommuOptions, type AmdDomain } from './driver.js';
export { AMD_PROFILES, AMD_PROFILE_NAMES, amdProfile, ptPolicyOf, type AmdProfile, type AmdProfileName, type AmdQuirks } from './profiles.js';
export { AMD_TIMELINE, type AmdEntryId } from './timeline.js';
export {
  createAmdv1Format, amdv1Cfgs, AMD_IOMMU_PGSIZES, AMDV1_PR, AMDV1_A, AMDV1_D, AMDV1_NL_SHIFT, AMDV1_NL_LARGE,
  AMDV1_HI_U, AMDV1_HI_FC, AMDV1_HI_IR, AMDV1_HI_IW, AMDV1_MAX_LEVEL, AMDV1_TOP_INDEX_BITS, AMDV1_MAX_OA_ORDER, AMDV1_HOLE_ORDER,
  trailingOnes, largeLeafOrder, replicaCount, pteBigInt, pteStore, entryPfnField, entryNextLevel,
  amdv1IsDirty, amdv1MakeClean, amdv1MakeDirty, type Amdv1Options,
} from './fmt-amdv1.js';
export {
  CMD_COMPLETION_WAIT, CMD_INV_DEVTAB_ENTRY, CMD_INV_IOMMU_PAGES, CMD_INV_IOTLB_PAGES, CMD_INV_INTERRUPT_TABLE,
  CMD_PREFETCH_IOMMU_PAGES, CMD_COMPLETE_PPR_REQUEST, CMD_INV_IOMMU_ALL, CMD_NAMES, CW_S, CW_I, CW_F, INV_S, INV_PDE, INV_GN,
  INV_ALL_PAGES, buildCompletionWait, buildInvDte, buildInvIommuPages, buildInvIotlbPages, buildInvAll, cmdBigInt,
  cmdOpcode, invAddress2018, buildInvAddress, decodeInvAddress, type CmdName, type InvAddress, type InvRange,
} from './hw/commands.js';
export { CmdRing, CMD_RING_ENTRIES } from './hw/cmd-ring.js';
export { DeviceTable, DTE_V, DTE_TV, DTE_HI_IR, DTE_HI_IW, DTE_MODE_SHIFT, type DteFields } from './hw/dte.js';
export {
  EventLog, EVENT_IO_PAGE_FAULT, EVENT_ILLEGAL_COMMAND_ERROR, EVENT_NAMES, EVENT_FLAG_GN, EVENT_FLAG_NX, EVENT_FLAG_US,
  EVENT_FLAG_I, EVENT_FLAG_PR, EVENT_FLAG_RW, EVENT_FLAG_PE, EVENT_FLAG_RZ, EVENT_FLAG_TN, type AmdEvent, type AmdEventType,
  type AmdEventName,
} from './hw/event-log.js';
export { walk, WalkResult } from './hw/walk.js';
export { AmdIommuHw, AMD_COSTS, type AmdHwOptions } from './hw/iommu.js';
