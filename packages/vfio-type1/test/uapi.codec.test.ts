// The uapi codecs on hand-built bytes (little-endian, offsets from include/uapi/linux/vfio.h):
// GET_INFO's capability chain in any order and cut short at every capability, UNMAP_DMA's
// vfio_bitmap, the flags word's int32 range, and how a bad value reads in a message.
import { describe, expect, it } from 'vitest';
import {
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  decodeDmaMap,
  decodeDmaUnmap,
  decodeInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, thrown } from './helpers.js';

/** One capability: header (id u16, version u16, next u32) and body, as the kernel lays it out. */
interface Cap {
  id: number;
  body: (v: DataView, off: number) => void;
  len: number;
}
const iovaRange = (ranges: [bigint, bigint][]): Cap => ({
  id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  len: 16 + 16 * ranges.length,
  body: (v, o) => {
    v.setUint32(o + 8, ranges.length, true);
    ranges.forEach(([s, e], i) => {
      v.setBigUint64(o + 16 + 16 * i, s, true);
      v.setBigUint64(o + 24 + 16 * i, e, true);
    });
  },
});
const dmaAvail = (n: number): Cap => ({ id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, len: 12, body: (v, o) => v.setUint32(o + 8, n, true) });
const migration = (flags: number, pgsizes: bigint, max: bigint): Cap => ({
  id: VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  len: 32,
  body: (v, o) => {
    v.setUint32(o + 8, flags, true);
    v.setBigUint64(o + 16, pgsizes, true);
    v.setBigUint64(o + 24, max, true);
  },
});

/** A GET_INFO buffer: the 24-byte header, then the caps back to back from offset 24 (or none). */
function infoBytes(caps: Cap[], extra = 0): Uint8Array {
  const total = 24 + caps.reduce((a, c) => a + c.len, 0) + extra;
  const b = new Uint8Array(total),
    v = new DataView(b.buffer);
  v.setUint32(0, total, true);
  v.setUint32(4, caps.length > 0 ? 3 : 1, true);
  v.setBigUint64(8, 0x40201000n, true);
  v.setUint32(16, caps.length > 0 ? 24 : 0, true);
  let off = 24;
  caps.forEach((c, i) => {
    v.setUint16(off, c.id, true);
    v.setUint16(off + 2, 1, true);
    v.setUint32(off + 4, i + 1 < caps.length ? off + c.len : 0, true);
    c.body(v, off);
    off += c.len;
  });
  return b;
}

describe('decodeInfo', () => {
  it('test_every_capability_in_any_order', () => {
    const caps = [
      migration(5, 0x1000n, 0x10000000n),
      dmaAvail(77),
      iovaRange([
        [0n, 0xfedfffffn],
        [0xfef00000n, 0xffffffffffffn],
      ]),
    ];
    const want = {
      argsz: 24 + 32 + 12 + 48,
      flags: 3,
      iovaPgsizes: 0x40201000n,
      capOffset: 24,
      migration: { flags: 5, pgsizeBitmap: 0x1000n, maxDirtyBitmapSize: 0x10000000n },
      dmaAvail: 77,
      iovaRanges: [
        { start: 0n, end: 0xfedfffffn },
        { start: 0xfef00000n, end: 0xffffffffffffn },
      ],
    };
    expect(decodeInfo(infoBytes(caps))).toEqual(want);
    expect(decodeInfo(infoBytes([...caps].reverse()))).toEqual(want);
  });

  it('test_header_only', () => {
    // 16 to 23 bytes: argsz, flags and iova_pgsizes only
    for (const n of [16, 23]) {
      const b = infoBytes([]).subarray(0, n);
      expect(decodeInfo(b)).toEqual({ argsz: 24, flags: 1, iovaPgsizes: 0x40201000n });
    }
    // 24 bytes: cap_offset too (0: no chain)
    expect(decodeInfo(infoBytes([]))).toEqual({ argsz: 24, flags: 1, iovaPgsizes: 0x40201000n, capOffset: 0 });
  });

  it.each([
    ['IOVA_RANGE', iovaRange([]), 16],
    ['DMA_AVAIL', dmaAvail(1), 12],
    ['MIGRATION', migration(0, 0x1000n, 1n), 32],
  ] as const)('test_capability_cut_short %s', (name, cap, len) => {
    const whole = infoBytes([cap]);
    expect(whole.byteLength).toBe(24 + len);
    // ending exactly at the buffer's end is whole
    expect(Object.keys(decodeInfo(whole))).toContain({ IOVA_RANGE: 'iovaRanges', DMA_AVAIL: 'dmaAvail', MIGRATION: 'migration' }[name]);
    const cut = whole.subarray(0, 24 + len - 1);
    const err = thrown(() => decodeInfo(cut));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(
      `decodeInfo: the ${name} capability at offset 24 ends at byte ${24 + len}, past the end of the ${23 + len}-byte buffer`,
    );
  });

  it('test_iova_ranges_past_the_end', () => {
    const b = infoBytes([
      iovaRange([
        [0n, 1n],
        [2n, 3n],
      ]),
    ]).subarray(0, 24 + 16 + 16 + 15);
    expect((thrown(() => decodeInfo(b)) as Error).message).toBe(
      'decodeInfo: the IOVA_RANGE capability with 2 ranges at offset 24 ends at byte 72, past the end of the 71-byte buffer',
    );
  });

  it('test_chain_ends_where_no_header_fits', () => {
    // the chain points at offset 24, where `tail` bytes remain, starting with DMA_AVAIL's id
    const dangling = (tail: number): Uint8Array => {
      const b = infoBytes([], tail);
      new DataView(b.buffer).setUint32(16, 24, true);
      new DataView(b.buffer).setUint16(24, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, true);
      return b;
    };
    // a cap header needs 8 bytes: an offset 7 bytes before the end reads nothing
    expect(decodeInfo(dangling(7))).toEqual({ argsz: 31, flags: 1, iovaPgsizes: 0x40201000n, capOffset: 24 });
    // 8 bytes hold the header: the capability is read, and its body is missing
    expect((thrown(() => decodeInfo(dangling(8))) as Error).message).toBe(
      'decodeInfo: the DMA_AVAIL capability at offset 24 ends at byte 36, past the end of the 32-byte buffer',
    );
    // an unknown id is skipped, the chain goes on
    const c = infoBytes([{ id: 99, len: 8, body: () => {} }, dmaAvail(3)]);
    expect(decodeInfo(c).dmaAvail).toBe(3);
  });

  it('test_a_cycle_in_the_chain_ends', () => {
    // next pointing at itself: the decoder gives up after 64 capabilities instead of looping
    const b = infoBytes([dmaAvail(9)]);
    new DataView(b.buffer).setUint32(28, 24, true);
    expect(decodeInfo(b).dmaAvail).toBe(9);
  });

  it('test_chain_reads_at_most_64_capabilities', () => {
    // 64 unknown capabilities, then DMA_AVAIL: the 65th is past the decoder's limit
    const unknown = { id: 99, len: 8, body: () => {} };
    expect(decodeInfo(infoBytes([...Array(63).fill(unknown), dmaAvail(5)])).dmaAvail).toBe(5);
    expect(decodeInfo(infoBytes([...Array(64).fill(unknown), dmaAvail(5)])).dmaAvail).toBe(undefined);
  });

  it('test_cap_offset_0_is_no_chain_whatever_the_header_holds', () => {
    // argsz 3 and flags 2 would read as a DMA_AVAIL header at offset 0 if offset 0 were followed
    const b = infoBytes([], 16);
    const v = new DataView(b.buffer);
    v.setUint32(0, 3, true);
    v.setUint32(4, 2, true);
    expect(decodeInfo(b)).toEqual({ argsz: 3, flags: 2, iovaPgsizes: 0x40201000n, capOffset: 0 });
  });

  it('test_container_reports_the_migration_capability', () => {
    // mainline: pgsize_bitmap is the smallest IOMMU page size, max_dirty_bitmap_size 256 MiB
    const e = makeEnv({ profile: 'mainline', dmaEntryLimit: 100 });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW });
    const info = e.c.getInfo();
    expect(info.migration).toEqual({ flags: 0, pgsizeBitmap: 0x1000n, maxDirtyBitmapSize: 0x10000000n });
    expect(info.dmaAvail).toBe(99);
    expect(info.iovaRanges![0]!.start).toBe(0n);
    expectCleanClose(e);
  });
});

describe('dma_unmap and its bitmap', () => {
  it('test_bitmap_encoded_and_decoded_at_its_offsets', () => {
    const b = encodeDmaUnmap({ flags: 1, iova: 0x2000n, size: 0x3000n, bitmap: { pgsize: 0x1000n, size: 0x8n, data: 0x7f00000000n } });
    expect(b.byteLength).toBe(48);
    const v = new DataView(b.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getBigUint64(8, true), v.getBigUint64(16, true)]).toEqual([
      48,
      1,
      0x2000n,
      0x3000n,
    ]);
    expect([v.getBigUint64(24, true), v.getBigUint64(32, true), v.getBigUint64(40, true)]).toEqual([0x1000n, 0x8n, 0x7f00000000n]);
    expect(decodeDmaUnmap(b)).toEqual({
      argsz: 48,
      flags: 1,
      iova: 0x2000n,
      size: 0x3000n,
      bitmap: { pgsize: 0x1000n, size: 0x8n, data: 0x7f00000000n },
    });
    // 47 bytes: no room for the bitmap
    expect(decodeDmaUnmap(b.subarray(0, 47))).toEqual({ argsz: 48, flags: 1, iova: 0x2000n, size: 0x3000n });
    expect(encodeDmaUnmap({ iova: 0n, size: K4 }).byteLength).toBe(24);
  });
});

describe('field checks', () => {
  it('test_flags_take_the_int32_of_a_bitwise_expression', () => {
    const m = { vaddr: 0n, iova: 0n, size: K4 };
    expect(decodeDmaMap(encodeDmaMap({ ...m, flags: -0x80000000 })).flags).toBe(0x80000000);
    expect(decodeDmaMap(encodeDmaMap({ ...m, flags: 3 | 0x80000000 })).flags).toBe(0x80000003);
    expect(() => encodeDmaMap({ ...m, flags: -0x80000001 })).toThrow(RangeError);
  });

  it.each<[unknown, string]>([
    [true, 'boolean true'],
    [4096, 'number 4096'],
    ['4096', "string '4096'"],
    [{ n: 1 }, 'object'],
    [null, 'null'],
    [() => 1, 'function'],
  ])('test_bad_value_shown %s', (value, shown) => {
    expect((thrown(() => encodeDmaMap({ vaddr: value as bigint, iova: 0n, size: K4, flags: 3 })) as Error).message).toBe(
      `vfio_iommu_type1_dma_map.vaddr: expected a bigint (u64), got ${shown}`,
    );
  });

  it('test_decoders_want_a_uint8array', () => {
    const err = thrown(() => decodeDmaMap([1, 2, 3] as unknown as Uint8Array));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('decodeDmaMap: struct vfio_iommu_type1_dma_map: expected a Uint8Array, got object');
    expect((thrown(() => decodeInfo('x' as unknown as Uint8Array)) as Error).message).toBe(
      "decodeInfo: struct vfio_iommu_type1_info: expected a Uint8Array, got string 'x'",
    );
  });

  it('test_info_request_buffer_lengths', () => {
    expect(encodeInfoRequest(16, 0)).toEqual(new Uint8Array(0));
    expect(Array.from(encodeInfoRequest(0x01020304, 2))).toEqual([4, 3]);
    expect((thrown(() => encodeInfoRequest(16, -1)) as Error).message).toBe(
      'encodeInfoRequest: buffer length -1 is not a byte count (an integer >= 0)',
    );
  });
});
