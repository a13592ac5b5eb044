// How a driver's page table answers conflicts and holes: the era's rules as data (spec amd-iommu
// §9.5, iommu-core §4), so one engine serves the 2018 AMD driver, io-pgtable, iommupt and VT-d.

export interface PtPolicy {
  /** Negative errno when a map target slot already holds a leaf (or a table it may not replace). */
  readonly overmap: number;
  /** Negative errno when a leaf at a higher level sits where the walk must descend. */
  readonly leafAbove: number;
  /** A map over an empty subtree unlinks it and frees its tables after a flush of the map's range (else overmap). */
  readonly replaceEmptyTables: boolean;
  /** Unmap meeting an empty slot: 'stop' ends it; 'count' steps over the slot and counts its size (AMD 2018). */
  readonly holes: 'stop' | 'count';
  /** Unmap starting inside a larger leaf: 'whole' removes and reports the leaf; 'zero' removes nothing (iommupt). */
  readonly startInLeaf: 'whole' | 'zero';
  /** Unmap frees tables whose whole span it cleared (after the sync of the unmap's gather). */
  readonly freeTables: boolean;
}
