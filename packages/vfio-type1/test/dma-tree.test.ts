// DmaTree, the container's dma list sorted by iova (@x/vfio-type1/internals), driven directly:
// link keeps the order whatever order the dmas come in, and unlinking a dma the tree does not hold
// is a model bug that names the iova, not a silent splice of whatever sits at that position.
import { describe, expect, it } from 'vitest';
import { createSim } from '@x/iommu-core';
import { Host } from '../src/index.js';
import { DmaTree, VfioDma } from '../src/internals.js';

describe('DmaTree', () => {
  const proc = new Host(createSim({ memory: 1n << 30n, seed: 7 })).spawn({});
  const dma = (iova: number, size: number): VfioDma => {
    const d = new VfioDma(iova, 0x1000 + iova, 3, proc, false);
    d.size = size;
    return d;
  };

  it('test_link_sorts_and_unlink_checks_identity', () => {
    const t = new DmaTree();
    const [a, b, c] = [dma(0x5, 2), dma(0x1, 1), dma(0x3, 1)];
    for (const d of [a, b, c]) t.link(d);
    expect(t.list.map((d) => d.iova)).toEqual([0x1, 0x3, 0x5]);
    t.unlink(c);
    expect(t.list).toEqual([b, a]);
    // a dma at an iova the tree has no entry for, and another object at the iova of one it has
    expect(() => t.unlink(dma(0x3, 1))).toThrow(new Error('BUG: dma at iova page 0x3 is not in the tree'));
    expect(() => t.unlink(dma(0x5, 2))).toThrow(new Error('BUG: dma at iova page 0x5 is not in the tree'));
    expect(t.list).toEqual([b, a]);
    expect([t.findOverlap(0x2, 4), t.containing(0x6), t.containing(0x7)]).toEqual([a, a, null]);
  });
});
