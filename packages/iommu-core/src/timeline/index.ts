// The kernel timeline: releases and the entries each package's profiles are derived from.
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
  type Release,
  type ReleaseName,
} from './release.js';
export {
  entriesAt,
  timelineFlags,
  timelineDiff,
  sortTimeline,
  checkTimeline,
  timelineMarkdown,
  withTimelineTable,
  TIMELINE_BEGIN,
  TIMELINE_END,
  namedReleases,
  KEY_RELEASES,
  type TimelineEntry,
  type TimelineComponent,
  type TimelineDiff,
} from './entry.js';
export { CORE_TIMELINE, type CoreEntryId } from './core-entries.js';
export { ENTRY_IDS, isProfileName, profileError, parseProfile, type ProfileName, type ParsedProfile } from './profile.js';
