// A format's geometry in the engine's units (IOVA pages of 4 KiB), computed once per page table
// from PtFormat.itemOrder / numItemsLg2 / leafOrders: what generic_pt derives from
// pt_table_item_lg2sz, pt_num_items_lg2 and pt_possible_sizes at compile time.

import { POW2_TABLE } from '../pgsize.js';
import type { PtFormat } from './format.js';

/** Entries in a table page of the arena (mem/arena.ts TABLE_WORDS / 2). */
const TABLE_ENTRIES_LG2 = 9;

export class PtGeometry {
  readonly maxLevel: number;
  /** Pages one item covers, per level. */
  readonly itemPages: Float64Array;
  /** Items a table holds, per level. */
  readonly items: Int32Array;
  /** Pages a whole table covers (items x itemPages), per level: the top's is the IOVA span. */
  readonly tablePages: Float64Array;
  /**
   * 1 / itemPages and 1 / tablePages: powers of two, so multiplying by them divides exactly, and
   * the walk's index and key arithmetic needs no floating-point division.
   */
  readonly perItem: Float64Array;
  readonly perTable: Float64Array;
  /** Level whose items are the natural home of a leaf of each order; -1 for an order the format cannot hold. */
  readonly levelOf: Int8Array;
  /** Entries one leaf of each order fills at its level (contiguous replicas); 0 where levelOf is -1. */
  readonly replicas: Float64Array;
  /** The format has a linear 4K codec and 4 KiB level-0 items: the engine's fused 4K runs apply. */
  readonly linear4k: boolean;

  /** RangeError for a geometry that is not a radix tree the arena can hold. */
  constructor(fmt: PtFormat) {
    const n = fmt.maxLevel + 1;
    if (!(Number.isInteger(fmt.maxLevel) && fmt.maxLevel >= 0 && fmt.maxLevel <= 7))
      throw new RangeError(`format ${fmt.name}: maxLevel ${fmt.maxLevel} outside 0..7`);
    this.maxLevel = fmt.maxLevel;
    this.itemPages = new Float64Array(n);
    this.items = new Int32Array(n);
    this.tablePages = new Float64Array(n);
    this.perItem = new Float64Array(n);
    this.perTable = new Float64Array(n);
    this.levelOf = new Int8Array(64).fill(-1);
    this.replicas = new Float64Array(64);
    for (let l = 0; l < n; l++) {
      const io = fmt.itemOrder(l),
        lg = fmt.numItemsLg2(l);
      if (!(Number.isInteger(io) && io >= 12 && Number.isInteger(lg) && lg >= 1 && lg <= TABLE_ENTRIES_LG2 && io + lg <= 64)) {
        throw new RangeError(`format ${fmt.name}: level ${l} has item order ${io} and ${lg} index bits (want items >= 4 KiB, 1..9 bits)`);
      }
      // test_table_radix: a level's index bits start where the level below stops
      if (l > 0 && io !== fmt.itemOrder(l - 1) + fmt.numItemsLg2(l - 1)) {
        throw new RangeError(
          `format ${fmt.name}: level ${l} items cover 2^${io} bytes, not the 2^${fmt.itemOrder(l - 1) + fmt.numItemsLg2(l - 1)} of a level-${l - 1} table`,
        );
      }
      this.itemPages[l] = POW2_TABLE[io - 12]!;
      this.items[l] = 1 << lg;
      this.tablePages[l] = POW2_TABLE[io - 12 + lg]!;
      this.perItem[l] = 1 / this.itemPages[l]!;
      this.perTable[l] = 1 / this.tablePages[l]!;
      for (const o of fmt.leafOrders(l)) {
        if (!(o >= io && o < io + lg))
          throw new RangeError(`format ${fmt.name}: leaf order ${o} at level ${l} outside [${io}, ${io + lg})`);
        if (this.levelOf[o] !== -1) throw new RangeError(`format ${fmt.name}: leaf order ${o} at two levels`);
        this.levelOf[o] = l;
        this.replicas[o] = POW2_TABLE[o - io]!;
      }
    }
    this.linear4k = fmt.leaf4k !== undefined && fmt.itemOrder(0) === 12;
  }
}
