// Models the IOMMU's page walker (spec amd-iommu §2.3, §6.3, §11.2): from the DTE's root and mode,
// read one 64-bit entry per level from PhysMem's table arena, follow NextLevel, AND the IR/IW
// permissions of the DTE and every entry, and decode the leaf size (NextLevel 0 or 7).
// Reads the arena's int32 words directly; no BigInt, no allocation per walk.

import type { PhysMem } from '@x/iommu-core';
import { AMDV1_NL_LARGE, AMDV1_PR, trailingOnes } from '../fmt-amdv1.js';
import { EVENT_FLAG_PE, EVENT_FLAG_PR, EVENT_FLAG_RZ } from './event-log.js';
import { POW2 } from '../pow2.js';

// Pages one item covers at level L: POW2[9 * L] (the core's P9 is a frozen array, which V8 11
// reads through its generic keyed-load IC, twice per level of every walk).

const HI_IR = 1 << 29,
  HI_IW = 1 << 30;

/** Result of the last walk (one instance per IOMMU). */
export class WalkResult {
  /** Frame the page translates to. */
  pfn = 0;
  /** First page and frame of the leaf, and its order (what the IOTLB caches). */
  leafIova = 0;
  leafPfn = 0;
  order = 12;
  /** ANDed permissions: bit 0 read, bit 1 write. */
  prot = 0;
  /** Entries read (charged as walkLevels). */
  levels = 0;
  /** On failure: event flags to log (PR, PE, RZ). */
  faultFlags = 0;
}

/**
 * Translates IOVA page `iova` through a table of `mode` (1..6) rooted at `root`, starting with the
 * DTE's permissions `dteProt`. Returns true with r filled, or false with r.faultFlags set: a
 * non-present entry (PR=0), or a malformed entry (RZ: level mismatch, bad size, not a table).
 * Permissions are not checked here: the caller compares r.prot with the access.
 */
export function walk(mem: PhysMem, mode: number, root: number, iova: number, dteProt: number, r: WalkResult): boolean {
  const tables = mem.tables;
  r.levels = 0;
  r.faultFlags = 0;
  if (mode < 1 || mode > 6) {
    r.faultFlags = EVENT_FLAG_RZ;
    return false;
  }
  // IOVA bits above the mode's reach must be zero (mode 6 decodes all 64 bits)
  if (mode < 6 && iova >= POW2[9 * mode]!) {
    r.faultFlags = 0;
    return false;
  }
  let prot = dteProt;
  let table = root;
  for (let l = mode - 1; l >= 0; l--) {
    if (!tables.isTable(table)) {
      r.faultFlags = EVENT_FLAG_RZ;
      return false;
    }
    const words = tables.words(table);
    const w = tables.wordOffset(table) + 2 * (Math.floor(iova / POW2[9 * l]!) % 512);
    const lo = words[w]!,
      hi = words[w + 1]!;
    r.levels++;
    if ((lo & AMDV1_PR) === 0) {
      r.faultFlags = 0;
      return false;
    }
    prot &= ((hi & HI_IR) !== 0 ? 1 : 0) | ((hi & HI_IW) !== 0 ? 2 : 0);
    const nl = (lo >>> 9) & 7;
    const f = (hi & 0xfffff) * 0x100000 + (lo >>> 12);
    if (nl !== 0 && nl !== AMDV1_NL_LARGE) {
      // a directory entry must name the next level down; level skipping is not modeled
      if (l === 0 || nl !== l) {
        r.faultFlags = EVENT_FLAG_PR | EVENT_FLAG_RZ;
        return false;
      }
      table = f;
      continue;
    }
    let order = 12 + 9 * l;
    if (nl === AMDV1_NL_LARGE) {
      order = 13 + trailingOnes(f);
      if (order <= 12 + 9 * l || order >= 21 + 9 * l) {
        r.faultFlags = EVENT_FLAG_PR | EVENT_FLAG_RZ;
        return false;
      }
    }
    const lp = POW2[order - 12]!;
    const off = iova % lp;
    r.leafIova = iova - off;
    r.leafPfn = f - (f % lp);
    r.pfn = r.leafPfn + off;
    r.order = order;
    r.prot = prot;
    return true;
  }
  r.faultFlags = EVENT_FLAG_RZ;
  return false;
}

/** Flags of a permission fault: the entry was present, the access was not allowed. */
export const PERMISSION_FAULT_FLAGS = EVENT_FLAG_PR | EVENT_FLAG_PE;
