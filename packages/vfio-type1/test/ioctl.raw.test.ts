// Raw uapi byte layouts: GET_INFO and its capability chain per era, and the raw ioctl path giving
// byte-identical results to the typed methods.
import { afterEach, describe, expect, it } from 'vitest';
import {
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  decodeInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
  type DmaMap,
  type DmaUnmap,
  type Profile,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, snapshot, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('get_info_layout', () => {
  it('test_get_info_mainline_cap_chain', () => {
    e = makeEnv({ profile: 'mainline', dmaEntryLimit: 100 });
    const short = encodeInfoRequest(24);
    expect(e.c.ioctl(VFIO_IOMMU_GET_INFO, short)).toBe(0);
    // argsz raised to what the chain needs (88 + 16 * 2 ranges), CAPS set, cap_offset 0
    expect(hexOf(short)).toBe('78000000' + '03000000' + '0010204000000000' + '00000000' + '00000000');
    const b = encodeInfoRequest(120);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, b);
    const v = new DataView(b.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(16, true)]).toEqual([120, 3, 24]);
    // MIGRATION @24 -> 56, DMA_AVAIL @56 -> 72 (4 bytes of pad @68), IOVA_RANGE @72 -> 0
    expect([v.getUint16(24, true), v.getUint16(26, true), v.getUint32(28, true)]).toEqual([2, 1, 56]);
    expect([v.getBigUint64(40, true), v.getBigUint64(48, true)]).toEqual([0x1000n, 0x10000000n]);
    expect([v.getUint16(56, true), v.getUint32(60, true), v.getUint32(64, true), v.getUint32(68, true)]).toEqual([3, 72, 100, 0]);
    expect([v.getUint16(72, true), v.getUint32(76, true), v.getUint32(80, true)]).toEqual([1, 0, 2]);
    expect([v.getBigUint64(88, true), v.getBigUint64(96, true), v.getBigUint64(104, true), v.getBigUint64(112, true)]).toEqual([
      0n,
      0xfedfffffn,
      0xfef00000n,
      0xffffffffffffn,
    ]);
    expect(decodeInfo(b)).toEqual(e.c.getInfo());
  });

  it('test_get_info_cap_pad_zeroed_over_caller_bytes', () => {
    // vfio_info_cap_add() zeroes each capability over its 8-byte-aligned size and the chain is
    // copied out whole: DMA_AVAIL's 4 pad bytes come back 0 whatever the caller's buffer held
    // (found by the differential test, whose buffers start as 0xee)
    e = makeEnv({ profile: 'mainline', dmaEntryLimit: 100 });
    const clean = encodeInfoRequest(120);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, clean);
    const dirty = encodeInfoRequest(120);
    dirty.fill(0xee, 4);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, dirty);
    expect(hexOf(dirty.subarray(68, 72))).toBe('00000000');
    // every byte comes back as in the clean run: mainline copies min(argsz, sizeof(info)) of a zeroed
    // info (its reserved word too) and the whole chain
    expect(hexOf(dirty)).toBe(hexOf(clean));
  });

  it('test_get_info_argsz_rules_mainline', () => {
    e = makeEnv({ profile: 'mainline' });
    const b15 = encodeInfoRequest(15, 24);
    expect(() => e.c.ioctl(VFIO_IOMMU_GET_INFO, b15)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'VFIO_IOMMU_GET_INFO' }),
    );
    expect(hexOf(b15)).toBe('0f' + '00'.repeat(23)); // nothing written back
    // argsz 20: 20 bytes come back, cap_offset's slot is written (0), the pad is not
    const b20 = encodeInfoRequest(20, 24);
    b20.fill(0xee, 20);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, b20);
    expect(hexOf(b20)).toBe('78000000' + '03000000' + '0010204000000000' + '00000000' + 'eeeeeeee');
    expect(() => e.c.ioctl(VFIO_IOMMU_GET_INFO, new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    // argsz claims room for the chain, but the buffer is shorter: EFAULT, nothing written
    const lie = encodeInfoRequest(200, 100);
    expect(() => e.c.ioctl(VFIO_IOMMU_GET_INFO, lie)).toThrow(expect.objectContaining({ code: 'EFAULT', errno: -14 }));
    expect(hexOf(lie)).toBe('c8' + '00'.repeat(99));
  });

  it.each<Profile>(['v4.16', 'v4.17'])('test_get_info_no_caps profile=%s', (profile) => {
    e = makeEnv({ profile });
    const b = encodeInfoRequest(24);
    b.fill(0xee, 16);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, b);
    // flags PGSIZES only, argsz untouched, only 16 bytes written; VT-d before v5.15 reported every
    // power of two from 4 KiB (INTEL_IOMMU_PGSIZES, ~0xFFF)
    expect(hexOf(b)).toBe('18000000' + '01000000' + '00f0ffffffffffff' + 'eeeeeeeeeeeeeeee');
    expect(e.c.getInfo()).toEqual({ argsz: 24, flags: 1, iovaPgsizes: 0xfffffffffffff000n });
  });
});

describe.each<Profile>(['v4.17', 'mainline'])('raw_vs_typed profile=%s', (profile) => {
  it('test_raw_ioctl_matches_typed', () => {
    const maps: DmaMap[] = [
      { vaddr: 0n, iova: 0n, size: 4n * M2, flags: RW },
      { argsz: 31, vaddr: 0n, iova: 0x40000000n, size: M2, flags: RW },
      { argsz: 64, vaddr: 4n * M2, iova: 0x40000000n, size: M2, flags: 1 },
      { vaddr: 0n, iova: 0x80000000n, size: M2, flags: RW | 0x10 },
      { vaddr: 0n, iova: M2, size: K4, flags: RW },
      { vaddr: 5n * M2, iova: 0x90000000n, size: M2 + 0x800n, flags: RW },
    ];
    const unmaps: DmaUnmap[] = [
      { argsz: 20, iova: 0n, size: M2 },
      { flags: 1, iova: 0n, size: M2 },
      { iova: M2, size: M2 },
      { iova: 0n, size: 4n * M2 },
      { iova: 0x40000000n, size: 0x40000000n },
    ];
    const run = (raw: boolean) => {
      const env = makeEnv({ profile });
      const va = env.proc.mmap(8n * M2, { backing: 'thp' });
      const out: unknown[] = [];
      const rec = (f: () => unknown) => {
        try {
          out.push(f());
        } catch (x) {
          out.push({ ...(x as object), message: (x as Error).message });
        }
      };
      for (const m of maps) {
        const mm = { ...m, vaddr: va + m.vaddr };
        rec(() => {
          if (raw) return env.c.ioctl(VFIO_IOMMU_MAP_DMA, encodeDmaMap(mm));
          env.c.mapDma(mm);
          return 0;
        });
      }
      for (const u of unmaps) {
        rec(() => {
          if (!raw) return env.c.unmapDma(u);
          const b = encodeDmaUnmap(u);
          env.c.ioctl(VFIO_IOMMU_UNMAP_DMA, b);
          return { size: new DataView(b.buffer).getBigUint64(16, true) };
        });
      }
      out.push(snapshot(env), env.c.stats(), env.sim.counters);
      e = env;
      return out;
    };
    const typed = run(false);
    expectCleanClose(e);
    const raw = run(true);
    expect(raw).toEqual(typed);
    expect(typed.slice(0, 11)).toEqual([
      0,
      expect.objectContaining({ code: 'EINVAL' }),
      0,
      expect.objectContaining({ code: 'EINVAL' }),
      expect.objectContaining({ code: 'EEXIST' }),
      expect.objectContaining({ code: 'EINVAL' }),
      expect.objectContaining({ code: 'EINVAL' }),
      expect.objectContaining({ code: 'EINVAL' }),
      expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining('bisects') }),
      { size: 4n * M2 },
      { size: M2 },
    ]);
  });
});
