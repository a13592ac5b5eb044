// A modeled IOTLB: translations cached per domain tag with a fixed capacity and a replacement
// policy. Cached entries count as "reach" on their frames, so a stale entry left after an unmap
// without a sync is exactly what the safety checker sees. Parallel typed arrays, one slot per entry.

import { POW2_TABLE as POW2 } from './pgsize.js';
import type { PhysMem } from './physmem.js';
import type { Reacher } from './sim/checker.js';
import { EV, type Meter } from './sim/meter.js';

/** 'lru' evicts the least recently used entry; 'fifo' the oldest; 'wipe' flushes everything when full (QEMU). */
export type IotlbPolicy = 'lru' | 'fifo' | 'wipe';

export class Iotlb implements Reacher {
  readonly capacity: number;
  private readonly dom: Int32Array;
  private readonly iova: Float64Array; // first page of the cached leaf
  private readonly pfn: Float64Array;
  private readonly order: Int8Array;
  private readonly prot: Int8Array;
  private readonly stamp: Float64Array;
  private readonly free: Int32Array;
  private nFree: number;
  private tick = 0;
  /** domain -> (iova base * 64 + order) -> slot; keys are exact while IOVAs stay below 2^59. */
  private readonly index = new Map<number, Map<number, number>>();
  private readonly ordersUsed = new Int32Array(64);
  used = 0;
  /** Extra counters a driver may read (evictions, wipes). */
  evictions = 0;
  wipes = 0;
  // result of the last lookup()
  hitPfn = 0;
  hitProt = 0;

  constructor(
    capacity: number,
    readonly policy: IotlbPolicy,
    private readonly mem: PhysMem,
    private readonly meter: Meter,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`IOTLB capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.dom = new Int32Array(capacity).fill(-1);
    this.iova = new Float64Array(capacity);
    this.pfn = new Float64Array(capacity);
    this.order = new Int8Array(capacity);
    this.prot = new Int8Array(capacity);
    this.stamp = new Float64Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.nFree = capacity;
  }

  /** Looks up iova (page) for a domain. On a hit sets hitPfn (pfn of that page) and hitProt. */
  lookup(domain: number, iova: number): boolean {
    const m = this.index.get(domain);
    if (m === undefined || m.size === 0) {
      this.meter.charge(EV.iotlbMisses, 1);
      return false;
    }
    for (let o = 12; o < 64; o++) {
      if (this.ordersUsed[o] === 0) continue;
      const lp = POW2[o - 12]!;
      const base = Math.floor(iova / lp);
      const s = m.get(base * 64 + o);
      if (s !== undefined) {
        if (this.policy === 'lru') this.stamp[s] = ++this.tick;
        this.hitPfn = this.pfn[s]! + (iova - base * lp);
        this.hitProt = this.prot[s]!;
        this.meter.charge(EV.iotlbHits, 1);
        return true;
      }
    }
    this.meter.charge(EV.iotlbMisses, 1);
    return false;
  }

  /** Caches the translation of a whole leaf (first page leafIova -> leafPfn, 2^order bytes). */
  fill(domain: number, leafIova: number, leafPfn: number, order: number, prot: number): void {
    if (this.nFree === 0) {
      if (this.policy === 'wipe') {
        this.wipes++;
        this.flushAll();
      } else this.evict();
    }
    const s = this.free[--this.nFree]!;
    this.dom[s] = domain;
    this.iova[s] = leafIova;
    this.pfn[s] = leafPfn;
    this.order[s] = order;
    this.prot[s] = prot;
    this.stamp[s] = ++this.tick;
    let m = this.index.get(domain);
    if (m === undefined) {
      m = new Map();
      this.index.set(domain, m);
    }
    m.set((leafIova / POW2[order - 12]!) * 64 + order, s);
    this.ordersUsed[order]!++;
    this.used++;
    this.mem.reachAdd(leafPfn, order, 1);
  }

  private drop(s: number): void {
    const d = this.dom[s]!,
      o = this.order[s]!;
    this.index.get(d)!.delete((this.iova[s]! / POW2[o - 12]!) * 64 + o);
    this.ordersUsed[o]!--;
    this.mem.reachAdd(this.pfn[s]!, o, -1);
    this.dom[s] = -1;
    this.free[this.nFree++] = s;
    this.used--;
  }

  private evict(): void {
    let best = -1,
      bestStamp = Infinity;
    for (let s = 0; s < this.capacity; s++) {
      if (this.dom[s] !== -1 && this.stamp[s]! < bestStamp) {
        best = s;
        bestStamp = this.stamp[s]!;
      }
    }
    this.evictions++;
    this.drop(best);
  }

  /** Drops every entry of a domain whose leaf overlaps [start, last] (pages, inclusive); returns entries dropped. */
  invalidateRange(domain: number, start: number, last: number): number {
    const m = this.index.get(domain);
    if (m === undefined || m.size === 0) return 0;
    let n = 0;
    // only this domain's slots are visited; collect first, the map changes while dropping
    const hit: number[] = [];
    for (const s of m.values()) {
      const a = this.iova[s]!,
        b = a + POW2[this.order[s]! - 12]! - 1;
      if (b >= start && a <= last) hit.push(s);
    }
    for (const s of hit) {
      this.drop(s);
      n++;
    }
    return n;
  }

  /** Drops every entry of a domain. */
  invalidateDomain(domain: number): number {
    return this.invalidateRange(domain, 0, Infinity);
  }

  /** Drops everything. */
  flushAll(): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++)
      if (this.dom[s] !== -1) {
        this.drop(s);
        n++;
      }
    return n;
  }

  /** Entries cached for a domain (tests). */
  entriesOf(domain: number): number {
    return this.index.get(domain)?.size ?? 0;
  }

  findReach(pfn: number): { domain: number; iova: number; via: 'iotlb' } | null {
    for (let s = 0; s < this.capacity; s++) {
      if (this.dom[s] === -1) continue;
      const p = this.pfn[s]!,
        n = POW2[this.order[s]! - 12]!;
      if (pfn >= p && pfn < p + n) return { domain: this.dom[s]!, iova: this.iova[s]! + (pfn - p), via: 'iotlb' };
    }
    return null;
  }
}
