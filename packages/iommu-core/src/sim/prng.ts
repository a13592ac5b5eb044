// Seeded PRNG (sfc32): every random choice in a run comes from here, so a seed fixes the numbers.

export class Prng {
  // initialised to 0 (a small integer) before the constructor sets them: fields declared without a
  // value start as undefined and V8 then keeps them in a generic layout, u32() ~4x slower
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  constructor(seed: number) {
    // splitmix32 expands the seed so nearby seeds give unrelated streams
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    // stored as int32 (| 0): u32() reads them only through int32/uint32 conversions, so the stream is
    // the same, and a value >= 2^31 would give the fields a boxed-double layout for good
    this.a = next() | 0;
    this.b = next() | 0;
    this.c = next() | 0;
    this.d = next() | 0;
    for (let i = 0; i < 12; i++) this.u32();
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }
  /** Uniform integer in [0, n) for n <= 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** A new independent generator derived from this one (for sub-components). */
  fork(): Prng {
    return new Prng(this.u32());
  }
}
