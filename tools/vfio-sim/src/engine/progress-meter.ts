// Progress of a single long case, measured in pages mapped and unmapped: what each ioctl plans
// (ProgressPlan) and, from inside an ioctl that maps or unmaps a 1 TiB guest, the pins and unpins
// of the host's memory so far (ProgressMeter, subscribed only when progress is shown, so a run
// without it pays nothing).

import type { Machine } from './machine.js';

/** What a single case reports as it runs (the terminal line of src/progress.ts). */
export interface ProgressSink {
  /** Once, before the first op: pages the case will map and unmap, and its ioctls and DMAs. */
  start(total: { readonly pages: number; readonly ops: number }): void;
  /** Now and then: pages mapped or unmapped so far (from inside a long ioctl too), and ioctls and DMAs done. */
  update(pages: number, ops: number): void;
}

/** Pin or unpin calls between two reports from inside an ioctl (then the sink throttles by time). */
const PROGRESS_TICK = 1024;

/**
 * The work of a case in pages, for progress: a MAP_DMA maps its size, an UNMAP_DMA unmaps what is
 * mapped of its range (at most what is mapped at all: an unmap of a huge range removes what is
 * there). The same plan totals a case before it runs and measures it while it runs.
 */
export class ProgressPlan {
  private mapped = 0;
  map(bytes: bigint): number {
    const p = Number(bytes >> 12n);
    this.mapped += p;
    return p;
  }
  unmap(bytes: bigint): number {
    const p = Math.min(Number(bytes >> 12n), this.mapped);
    this.mapped -= p;
    return p;
  }
}

/**
 * Pages mapped and unmapped so far. Reports from inside a long ioctl too: every PROGRESS_TICK pin or
 * unpin calls of the host's memory (observed only when progress is shown), what the ioctl has pinned or
 * unpinned so far, capped at its planned pages, is added to the ioctls done.
 */
export class ProgressMeter {
  pages = 0;
  ops = 0;
  private live = 0;
  private cap = 0;
  private tick = PROGRESS_TICK;

  constructor(
    m: Machine,
    private readonly sink: ProgressSink,
  ) {
    // the sim's pin and unpin probe points (sim.observe), not a replaced PhysMem method
    m.sim.observe({
      pin: (_pfn, npages) => {
        this.bump(npages);
      },
      unpin: (_pfn, npages) => {
        this.bump(npages);
      },
    });
  }

  /** An ioctl starts that plans to map or unmap `pages`. */
  begin(pages: number): void {
    this.live = 0;
    this.cap = pages;
  }

  /** The ioctl is done (whatever it returned). */
  end(): void {
    this.pages += this.cap;
    this.cap = 0;
    this.live = 0;
    this.done();
  }

  /** A line done (an ioctl, after end(), or a DMA). */
  done(): void {
    this.ops++;
    if (--this.tick <= 0) this.report();
  }

  private bump(n: number): void {
    this.live += n;
    if (--this.tick <= 0) this.report();
  }

  private report(): void {
    this.tick = PROGRESS_TICK;
    this.sink.update(this.pages + Math.min(this.live, this.cap), this.ops);
  }
}
