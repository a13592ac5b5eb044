// Profile names: a release, optionally with single timeline entries switched on or off, so an
// experiment can isolate one commit ('v4.0+remove-fgsp': v4.0 with the fgsp probe already gone;
// 'v6.18~folio-batch-acct': v6.18 without Li Zhe's series). Every package reads the same syntax.

import { parseRelease, releaseError, releaseIndex, type Release, type ReleaseName } from './release.js';

/**
 * The id of every timeline entry of every package (the core cannot import the others' timelines;
 * each package's tests check its ids are here), so a misspelt entry is refused everywhere.
 */
export const ENTRY_IDS: readonly string[] = Object.freeze([
  // iommu-core and intel-iommu
  'iommu-tlb-interface',
  'iotlb-gather',
  'map-pages',
  'vtd-iotlb-sync',
  'vtd-map-pages',
  'vtd-real-pgsize',
  // amd-iommu
  'amd-fast-flush',
  'amd-detach-flush',
  'amd-upgrade-pgsize',
  'amd-grow-dte-flush',
  'amd-cmd-sem-seq',
  'amd-inv-address',
  'amd-sync-range',
  'amd-map-pages',
  'amd-iommupt',
  // vfio-type1 and the mm code it pins through
  'dma-unmap-chunking',
  'unmap-wrap-check',
  'fast-unmap',
  'unmap-wrap-fix',
  'remove-map-try-harder',
  'dma-entry-limit',
  'iova-list',
  'dirty-tracking',
  'dma-avail-cap',
  'replay-unwind',
  'unmap-all-vaddr',
  'batched-pinning',
  'always-cache',
  'cap-align',
  'paging-domain-alloc',
  'remove-nesting',
  'pfnmap-huge-step',
  'remove-fgsp',
  'folio-batch-acct',
  'overflow-rework',
  'gup-thp-fast',
]);
const IDS = new Set(ENTRY_IDS);

/**
 * A profile name: a release or 'mainline', then any number of '+<entry id>' (switch the entry on
 * although the release predates it) and '~<entry id>' (switch it off although the release has it).
 */
export type ProfileName = ReleaseName | `${ReleaseName}+${string}` | `${ReleaseName}~${string}`;

export interface ParsedProfile {
  readonly release: Release;
  /** Entries switched on by '+id', in the order given. */
  readonly on: readonly string[];
  /** Entries switched off by '~id', in the order given. */
  readonly off: readonly string[];
}

const cache = new Map<string, ParsedProfile | string>();

function parse(name: string): ParsedProfile | string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  let out: ParsedProfile | string;
  const cut = name.search(/[+~]/);
  const rel = cut < 0 ? name : name.slice(0, cut);
  if (releaseIndex(rel) < 0) out = releaseError(rel);
  else {
    const on: string[] = [],
      off: string[] = [];
    out = { release: parseRelease(rel), on, off };
    const re = /([+~])([^+~]*)/g,
      tail = name.slice(rel.length);
    for (let m = re.exec(tail); m !== null; m = re.exec(tail)) {
      const id = m[2]!;
      if (!IDS.has(id)) {
        out = `unknown timeline entry '${id}' in profile '${name}' (see \`vfio-sim timeline\` for the entry ids)`;
        break;
      }
      if (on.includes(id) || off.includes(id)) {
        out = `profile '${name}' names entry '${id}' twice`;
        break;
      }
      (m[1] === '+' ? on : off).push(id);
    }
  }
  // the memo hands the same object to every caller: frozen, so none can change what the next one gets
  if (typeof out !== 'string') {
    Object.freeze(out.on);
    Object.freeze(out.off);
    Object.freeze(out);
  }
  if (cache.size < 4096) cache.set(name, out);
  return out;
}

/** True for a release name, with or without '+id' / '~id' switches of known entries. */
export function isProfileName(v: unknown): v is ProfileName {
  return typeof v === 'string' && typeof parse(v) !== 'string';
}

/** Why `v` is not a profile name: one line. */
export function profileError(v: unknown): string {
  if (typeof v !== 'string') return releaseError(v);
  const r = parse(v);
  return typeof r === 'string' ? r : `'${v}' is a valid profile`;
}

/** A profile name's release and switches. RangeError for anything else. */
export function parseProfile(name: string): ParsedProfile {
  const r = parse(name);
  if (typeof r === 'string') throw new RangeError(r);
  return r;
}
