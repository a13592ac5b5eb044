// Models the device table (spec amd-iommu §7): 65536 entries of 256 bits indexed by the 16-bit
// DeviceID, eight int32 words each, plus the hardware's DTE cache, which only
// INVALIDATE_DEVTAB_ENTRY (or INVALIDATE_IOMMU_ALL) refreshes.

const DTE_WORDS = 8;
export const DEV_ID_MAX = 0xffff;
// word 0 (bits 31:0)
export const DTE_V = 1 << 0;
export const DTE_TV = 1 << 1;
export const DTE_MODE_SHIFT = 9;
// word 1 (bits 63:32): root pointer 51:32 in bits 19:0, IR bit 61, IW bit 62
export const DTE_HI_IR = 1 << (61 - 32);
export const DTE_HI_IW = 1 << (62 - 32);
// word 2 (bits 95:64): DomainID 79:64; word 3 (I, SE, SA: interrupt and exception control) stays 0

export interface DteFields {
  v: boolean;
  tv: boolean;
  mode: number;
  rootPfn: number;
  ir: boolean;
  iw: boolean;
  domainId: number;
}

export class DeviceTable {
  /** The table in memory. */
  readonly words = new Int32Array((DEV_ID_MAX + 1) * DTE_WORDS);
  // the DTE cache: what the translation path uses (filled from memory on a miss)
  private readonly cValid = new Uint8Array(DEV_ID_MAX + 1);
  readonly cMode = new Uint8Array(DEV_ID_MAX + 1);
  readonly cRoot = new Float64Array(DEV_ID_MAX + 1);
  readonly cDom = new Int32Array(DEV_ID_MAX + 1);
  /** Cached DTE permissions: bit 0 IR (read), bit 1 IW (write); bit 2 V; bit 3 TV. */
  readonly cFlags = new Uint8Array(DEV_ID_MAX + 1);
  /** Cache misses (DTE reads from memory). */
  fetches = 0;

  /** Linux init: every DTE valid with translation on, mode 0, no permissions (DMA blocked). */
  constructor() {
    for (let d = 0; d <= DEV_ID_MAX; d++) this.words[d * DTE_WORDS] = DTE_V | DTE_TV;
  }

  /** Writes the fields software controls (set_dte_entry / clear_dte_entry). */
  write(dev: number, f: DteFields): void {
    const w = dev * DTE_WORDS;
    this.words[w] = (f.v ? DTE_V : 0) | (f.tv ? DTE_TV : 0) | ((f.mode & 7) << DTE_MODE_SHIFT) | ((f.rootPfn % 0x100000) << 12);
    this.words[w + 1] = (Math.floor(f.rootPfn / 0x100000) & 0xfffff) | (f.ir ? DTE_HI_IR : 0) | (f.iw ? DTE_HI_IW : 0);
    this.words[w + 2] = (this.words[w + 2]! & ~0xffff) | (f.domainId & 0xffff);
  }

  /** Decodes the DTE in memory. */
  read(dev: number): DteFields {
    const w = dev * DTE_WORDS,
      a = this.words[w]!,
      b = this.words[w + 1]!;
    return {
      v: (a & DTE_V) !== 0,
      tv: (a & DTE_TV) !== 0,
      mode: (a >>> DTE_MODE_SHIFT) & 7,
      rootPfn: (b & 0xfffff) * 0x100000 + (a >>> 12),
      ir: (b & DTE_HI_IR) !== 0,
      iw: (b & DTE_HI_IW) !== 0,
      domainId: this.words[w + 2]! & 0xffff,
    };
  }

  /** The 256-bit DTE as four 64-bit bigints (data[0..3] in Linux's struct dev_table_entry). */
  raw(dev: number): bigint[] {
    const w = dev * DTE_WORDS,
      out: bigint[] = [];
    for (let q = 0; q < 4; q++) out.push((BigInt(this.words[w + 2 * q + 1]! >>> 0) << 32n) | BigInt(this.words[w + 2 * q]! >>> 0));
    return out;
  }

  /** Hardware: makes sure the cache holds dev's DTE (reading memory on a miss). Returns true on a miss. */
  load(dev: number): boolean {
    if (this.cValid[dev] === 1) return false;
    const w = dev * DTE_WORDS,
      a = this.words[w]!,
      b = this.words[w + 1]!;
    this.cMode[dev] = (a >>> DTE_MODE_SHIFT) & 7;
    this.cRoot[dev] = (b & 0xfffff) * 0x100000 + (a >>> 12);
    this.cDom[dev] = this.words[w + 2]! & 0xffff;
    this.cFlags[dev] =
      ((b & DTE_HI_IR) !== 0 ? 1 : 0) | ((b & DTE_HI_IW) !== 0 ? 2 : 0) | ((a & DTE_V) !== 0 ? 4 : 0) | ((a & DTE_TV) !== 0 ? 8 : 0);
    this.cValid[dev] = 1;
    this.fetches++;
    return true;
  }

  /** INVALIDATE_DEVTAB_ENTRY. */
  invalidate(dev: number): void {
    this.cValid[dev] = 0;
  }
  /** INVALIDATE_IOMMU_ALL. */
  invalidateAll(): void {
    this.cValid.fill(0);
  }
}
