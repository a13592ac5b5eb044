// @x/amd-iommu public API (named exports only).
export { createAmdIommu, AmdIommu, type AmdIommuOptions, type AmdDomain } from './driver.js';
export { AMD_PROFILES, AMD_PROFILE_NAMES, amdProfile, type AmdProfile, type AmdProfileName, type AmdQuirks } from './profiles.js';
export { AMD_TIMELINE, type AmdEntryId } from './timeline.js';
export { AMD_IOMMU_PGSIZES } from './fmt-amdv1.js';
export { CMD_NAMES, type CmdName } from './hw/commands.js';
export {
  EVENT_IO_PAGE_FAULT,
  EVENT_ILLEGAL_COMMAND_ERROR,
  EVENT_NAMES,
  EVENT_FLAG_GN,
  EVENT_FLAG_NX,
  EVENT_FLAG_US,
  EVENT_FLAG_I,
  EVENT_FLAG_PR,
  EVENT_FLAG_RW,
  EVENT_FLAG_PE,
  EVENT_FLAG_RZ,
  EVENT_FLAG_TN,
  type AmdEvent,
  type AmdEventType,
  type AmdEventName,
} from './hw/event-log.js';
