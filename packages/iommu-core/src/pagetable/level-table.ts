// What the level functions (map.ts, unmap.ts, walk-all.ts) use of a page table: the walk's tables,
// the codec, the policy and the accounting, and the hooks that record or unlink the tables they
// allocate and empty. An interface of its own so that they need not import table.ts, which calls them.

import type { IotlbGather } from '../gather.js';
import type { PhysMem } from '../physmem.js';
import type { PtAccount } from './account.js';
import type { PtFormat } from './format.js';
import type { PtWalkable } from './iter.js';
import type { PtPolicy } from './policy.js';

export interface PtLevelTable extends PtWalkable {
  /** pfn of the root table. */
  readonly root: number;
  /** Tables the page table owns; a map that allocates one counts it. */
  tables: number;
  readonly fmt: PtFormat;
  readonly mem: PhysMem;
  readonly policy: PtPolicy;
  readonly acct: PtAccount;
  /** The format's linear 4K codec, or null (PageTable.lin). */
  readonly lin: ((pfn: number, prot: number, out: Int32Array) => void) | null;
  /** Two words the linear codec encodes into. */
  readonly enc: Int32Array;
  /** Moves unlinked tables onto g's freelist (PageTable.unlink). */
  unlink(list: readonly number[], g: IotlbGather, belowLevel: number): void;
  /** Records a table a map allocated, inside a failed-map bracket (PageTable.txRecord). */
  txRecord(pfn: number, va: number, level: number): void;
  /** True when every entry of table pfn is empty. */
  tableEmpty(pfn: number): boolean;
}
