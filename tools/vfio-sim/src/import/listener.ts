// Models what QEMU's VFIO memory listener (hw/vfio/listener.c; common.c before 10.1) and its
// iommufd backend ask of the kernel, read back from their trace events (research notes, not QEMU's
// code): `region_add [ram] A - B [P]` is one MAP_DMA of B - A + 1 bytes from host address P,
// `region_del A - B` one UNMAP_DMA of the range, a skipped section nothing; a ram_device section
// QEMU could not align (`..._no_dma_map` right after its add) is not mapped, nor unmapped later. The
// iommufd backend traces every IOAS map and unmap after the ioctl, with its result and the read-only
// bit. Live mappings are tracked so that a trace QEMU could not have produced is refused at the line.

import { UsageError } from '../errors.js';
import { readEvent, splitTraceLine, VERSION_EVIDENCE, type PrefixKind, type QemuEvent } from './qemu-trace.js';

/** One MAP_DMA: `host` is the trace's host address of the first byte (or a stand-in for an iommufd file mapping). */
export interface TraceMap {
  readonly kind: 'map';
  readonly line: number;
  readonly iova: bigint;
  readonly size: bigint;
  readonly host: bigint;
  readonly readonly: boolean;
  /** Inside a vfio-pci BAR the trace placed with pci_update_mappings_add: device MMIO, not RAM. */
  readonly mmio: boolean;
}
/** One UNMAP_DMA and the bytes it removes (what the kernel writes back). */
interface TraceUnmap {
  readonly kind: 'unmap';
  readonly line: number;
  readonly iova: bigint;
  readonly size: bigint;
  readonly sizeOut: bigint;
}
type TraceOp = TraceMap | TraceUnmap;

interface ListenerCounts {
  /** Non-blank lines read. */
  lines: number;
  /** Map and unmap events that became ioctls. */
  maps: number;
  unmaps: number;
  /** Sections VFIO skipped (MMIO, ...): SKIPPING lines. */
  skipped: number;
  /** region_add lines QEMU did not map (ram_device not aligned to the IOMMU page: no_dma_map) and their later region_del. */
  noDmaMap: number;
  /** vIOMMU notifications and regions (no host address in the trace): not imported. */
  viommu: number;
  /** iommufd maps and unmaps that failed in the trace (ret != 0), and unmaps of nothing (non_exist): no ioctl. */
  failed: number;
  nonExist: number;
  /** VFIO events that change no mapping, other QEMU trace events, lines that are no trace event. */
  notes: number;
  otherEvents: number;
  unrelated: number;
  /** Maps inside a vfio-pci BAR (pci_update_mappings_add). */
  barMaps: number;
  /** iommufd file mappings whose host address the trace did not give (no region_add [ram] before them). */
  fileMaps: number;
}

export interface ListenerTrace {
  readonly backend: 'legacy' | 'iommufd';
  /** In trace order. */
  readonly ops: readonly TraceOp[];
  /** Mappings in place when the trace ends, ascending by IOVA. */
  readonly left: readonly TraceMap[];
  /** Most RAM (not MMIO) mapped at once, bytes. */
  readonly peakRam: bigint;
  readonly counts: ListenerCounts;
  readonly prefixes: ReadonlySet<PrefixKind>;
  /** The QEMU releases the event names and prefixes allow ([first, last], null = open) and the names that said so. */
  readonly versions: { readonly first: string | null; readonly last: string | null; readonly because: readonly string[] };
}

const PAGE_MASK = 0xfffn;
const hx = (v: bigint): string => `0x${v.toString(16)}`;
/** Host addresses of iommufd file mappings without one: fd + 1 in bits 48 and up, above any user address (< 2^47). */
const fileHost = (fd: number, start: bigint): bigint => (BigInt(fd + 1) << 48n) + start;
const vnum = (v: string): number => {
  const [a, b] = v.split('.');
  return Number(a) * 1000 + Number(b);
};

/**
 * Reads a whole trace into the ioctls QEMU issued. Throws UsageError naming `file:line` for a
 * known event whose arguments do not parse and for a trace QEMU could not have produced (a range
 * mapped twice, an unmap of a range never mapped or of part of a mapping, unaligned ranges).
 */
export function readListenerTrace(text: string, file: string): ListenerTrace {
  const counts: ListenerCounts = {
    lines: 0,
    maps: 0,
    unmaps: 0,
    skipped: 0,
    noDmaMap: 0,
    viommu: 0,
    failed: 0,
    nonExist: 0,
    notes: 0,
    otherEvents: 0,
    unrelated: 0,
    barMaps: 0,
    fileMaps: 0,
  };
  const prefixes = new Set<PrefixKind>();
  const seen = new Set<string>();
  const events: { line: number; e: QemuEvent }[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.trim() === '') continue;
    counts.lines++;
    const raw = splitTraceLine(rows[i]!);
    if (raw === null) {
      counts.unrelated++;
      continue;
    }
    let e: QemuEvent | null;
    try {
      e = readEvent(raw);
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}`, (err as Error).message);
    }
    if (e === null) {
      counts.otherEvents++;
      continue;
    }
    prefixes.add(raw.prefix);
    seen.add(raw.event);
    events.push({ line: i + 1, e });
  }
  // iommufd traces every IOAS map and unmap (with the read-only bit and the result); its listener's
  // region_add/region_del lines then only lend host addresses
  const iommufd = events.some(({ e }) => e.kind === 'ioasMap' || e.kind === 'ioasUnmap');
  const st = new State(file, counts);
  let lastAdd: { iova: bigint; last: bigint; vaddr: bigint | null } | null = null;
  let delIsIommu = false;
  let ioas: number | null = null;
  for (const { line, e } of events) {
    switch (e.kind) {
      case 'add':
        lastAdd = e;
        if (!iommufd) st.map(line, e.iova, e.last - e.iova + 1n, e.vaddr, false, 'region_add [ram]');
        break;
      // (iommufd: no map follows such a section, nothing to take back)
      case 'noDmaMap':
        if (!iommufd) st.noDmaMap(e.iova, e.size);
        else counts.noDmaMap++;
        break;
      case 'del':
        // the unmap of a vIOMMU region right after its region_del [iommu]: its maps were not imported
        if (delIsIommu) {
          delIsIommu = false;
          counts.viommu++;
          break;
        }
        if (!iommufd) st.unmapSection(line, e.iova, e.last);
        break;
      case 'skip':
        counts.skipped++;
        break;
      case 'addIommu':
      case 'iommuNotify':
        counts.viommu++;
        break;
      case 'delIommu':
        counts.viommu++;
        delIsIommu = true;
        break;
      case 'bar':
        st.bar(e.add, e.dev, e.addr, e.size);
        break;
      case 'note':
        counts.notes++;
        break;
      case 'ioasMap':
      case 'ioasUnmap': {
        if (ioas === null) ioas = e.ioas;
        else if (e.ioas !== ioas)
          throw new UsageError(
            `${file}:${line}`,
            `iommufd IOAS ${e.ioas}: the trace also maps into IOAS ${ioas}; import traces one address space (one container) at a time`,
          );
        // non_exist is the kernel's ENOENT (its ret is the ioctl's -1), which QEMU takes as success
        if (e.kind === 'ioasUnmap' && e.nonExist) {
          st.unmapRange(line, e.iova, e.size, true);
          break;
        }
        if (e.ret !== 0) {
          counts.failed++;
          break;
        } // QEMU warns (a BAR: EFAULT) and goes on; nothing changed
        if (e.kind === 'ioasUnmap') {
          st.unmapRange(line, e.iova, e.size, false);
          break;
        }
        let host = e.vaddr;
        if (e.fd !== null) {
          // IOMMU_IOAS_MAP_FILE has an fd and offset; the region_add [ram] just before has the address
          if (lastAdd !== null && lastAdd.iova === e.iova && lastAdd.last - lastAdd.iova + 1n === e.size && lastAdd.vaddr !== null)
            host = lastAdd.vaddr;
          else {
            host = fileHost(e.fd, e.start);
            counts.fileMaps++;
          }
        }
        st.map(line, e.iova, e.size, host, e.readonly, e.fd !== null ? 'iommufd_backend_map_file_dma' : 'iommufd_backend_map_dma');
        break;
      }
    }
  }
  let first: string | null = null,
    last: string | null = null;
  const keys = [...seen, ...[...prefixes].map((p) => `prefix:${p}`)].filter((k) => VERSION_EVIDENCE[k] !== undefined);
  for (const k of keys) {
    const ev = VERSION_EVIDENCE[k]!;
    if (ev[0] !== null && (first === null || vnum(ev[0]) > vnum(first))) first = ev[0];
    if (ev[1] !== null && (last === null || vnum(ev[1]) < vnum(last))) last = ev[1];
  }
  // the names that set the bounds
  const because = keys
    .filter((k) => (VERSION_EVIDENCE[k]![0] === first && first !== null) || (VERSION_EVIDENCE[k]![1] === last && last !== null))
    .map((k) => (k.startsWith('prefix:') ? `the ${k.slice(7)} prefix` : k));
  return {
    backend: iommufd ? 'iommufd' : 'legacy',
    ops: st.ops,
    left: st.live.slice(),
    peakRam: st.peakRam,
    counts,
    prefixes,
    versions: { first, last, because },
  };
}

/** The mappings QEMU has in place as the trace goes, and the ioctls so far. */
class State {
  readonly ops: TraceOp[] = [];
  /** Ascending by IOVA. */
  readonly live: TraceMap[] = [];
  peakRam = 0n;
  private ram = 0n;
  /** Ranges QEMU added but did not map (no_dma_map), as `iova-last`: their region_del unmaps nothing. */
  private readonly unmapped = new Set<string>();
  /** Guest ranges of vfio-pci BARs in place, [start, end). */
  private readonly bars: [bigint, bigint][] = [];

  constructor(
    private readonly file: string,
    private readonly counts: ListenerCounts,
  ) {}

  private fail(line: number, msg: string): never {
    throw new UsageError(`${this.file}:${line}`, msg);
  }

  map(line: number, iova: bigint, size: bigint, host: bigint | null, ro: boolean, what: string): void {
    const last = iova + size - 1n;
    const range = `${what} ${hx(iova)} - ${hx(last)}`;
    if (host === null) this.fail(line, `${range}: host address (nil): QEMU maps RAM it has mmapped`);
    if (size <= 0n || ((iova | size | host) & PAGE_MASK) !== 0n) {
      this.fail(line, `${range} [${hx(host)}]: not 4 KiB page aligned; QEMU's listener maps host-page aligned ranges`);
    }
    let k = 0;
    while (k < this.live.length && this.live[k]!.iova + this.live[k]!.size <= iova) k++;
    const o = this.live[k];
    if (o !== undefined && o.iova <= last) {
      const same = o.iova === iova && o.size === size && o.host === host;
      this.fail(
        line,
        same
          ? `${range} [${hx(host)}] maps again what line ${o.line} mapped and nothing unmapped: a second VFIO container (each replays the memory map)? import traces one container`
          : `${range} overlaps ${hx(o.iova)} - ${hx(o.iova + o.size - 1n)} mapped on line ${o.line} and not unmapped; QEMU's listener never adds a section over a live one`,
      );
    }
    const mmio = this.bars.some(([s, e]) => iova >= s && last < e);
    const m: TraceMap = { kind: 'map', line, iova, size, host, readonly: ro, mmio };
    this.live.splice(k, 0, m);
    this.ops.push(m);
    this.counts.maps++;
    if (mmio) this.counts.barMaps++;
    else {
      this.ram += size;
      if (this.ram > this.peakRam) this.peakRam = this.ram;
    }
  }

  /** no_dma_map right after a region_add: QEMU did not map that section (it is still in the trace, before the check). */
  noDmaMap(iova: bigint, size: bigint): void {
    this.counts.noDmaMap++;
    const op = this.ops[this.ops.length - 1];
    if (op === undefined || op.kind !== 'map' || op.iova < iova || op.iova + op.size > iova + size) return;
    this.ops.pop();
    this.live.splice(this.live.indexOf(op), 1);
    this.counts.maps--;
    if (op.mmio) this.counts.barMaps--;
    else this.ram -= op.size;
    this.unmapped.add(`${op.iova}-${op.iova + op.size - 1n}`);
  }

  /** The live mappings inside [iova, end) (end exclusive, may be 2^64); refuses one the range only partly covers. */
  private inside(line: number, what: string, iova: bigint, end: bigint): TraceMap[] {
    const got: TraceMap[] = [];
    for (const m of this.live) {
      const mend = m.iova + m.size;
      if (mend <= iova || m.iova >= end) continue;
      if (m.iova < iova || mend > end) {
        this.fail(
          line,
          `${what} splits the mapping ${hx(m.iova)} - ${hx(mend - 1n)} of line ${m.line}; type1 refuses that (EINVAL) and QEMU's listener unmaps whole sections`,
        );
      }
      got.push(m);
    }
    return got;
  }

  private drop(ms: readonly TraceMap[]): bigint {
    let bytes = 0n;
    for (const m of ms) {
      this.live.splice(this.live.indexOf(m), 1);
      bytes += m.size;
      if (!m.mmio) this.ram -= m.size;
    }
    return bytes;
  }

  /** region_del A - B: one UNMAP_DMA of the section, as QEMU sends it. */
  unmapSection(line: number, iova: bigint, last: bigint): void {
    const what = `region_del ${hx(iova)} - ${hx(last)}`;
    if (this.unmapped.delete(`${iova}-${last}`)) {
      this.counts.noDmaMap++;
      return;
    }
    const ms = this.inside(line, what, iova, last + 1n);
    if (ms.length === 0) {
      this.fail(
        line,
        `${what} unmaps a range no region_add mapped: the trace starts after its region_add, or it is a virtio-mem section (QEMU does not trace those maps); neither can be replayed`,
      );
    }
    const sizeOut = this.drop(ms);
    this.ops.push({ kind: 'unmap', line, iova, size: last - iova + 1n, sizeOut });
    this.counts.unmaps++;
  }

  /**
   * An IOAS unmap of [iova, iova + size): one UNMAP_DMA per mapping inside, each of its own range
   * (the kernel's work is the same; type1 cannot express a range that ends at 2^64 or the whole space).
   */
  unmapRange(line: number, iova: bigint, size: bigint, nonExist: boolean): void {
    const what = `IOAS unmap ${hx(iova)} size ${hx(size)}`;
    const ms = this.inside(line, what, iova, iova + size);
    if (nonExist) {
      this.counts.nonExist++;
      if (ms.length > 0)
        this.fail(
          line,
          `${what}: the kernel found nothing mapped there (unmap_dma_non_exist), but line ${ms[0]!.line} mapped ${hx(ms[0]!.iova)} - ${hx(ms[0]!.iova + ms[0]!.size - 1n)}`,
        );
      return;
    }
    if (ms.length === 0) {
      // a vIOMMU region's unmap covers maps this import did not take (no host address in the trace)
      if (this.counts.viommu > 0) {
        this.counts.viommu++;
        return;
      }
      this.fail(
        line,
        `${what} unmaps a range nothing mapped, though the kernel unmapped something (ret 0): the trace starts after its map`,
      );
    }
    for (const m of ms) {
      this.drop([m]);
      this.ops.push({ kind: 'unmap', line, iova: m.iova, size: m.size, sizeOut: m.size });
      this.counts.unmaps++;
    }
  }

  /** pci_update_mappings_add/_del of a vfio-pci device: its BAR's guest range is device MMIO while in place. */
  bar(add: boolean, dev: string, addr: bigint, size: bigint): void {
    if (!dev.startsWith('vfio')) return;
    const k = this.bars.findIndex(([s, e]) => s === addr && e === addr + size);
    if (add && k < 0) this.bars.push([addr, addr + size]);
    if (!add && k >= 0) this.bars.splice(k, 1);
  }
}
