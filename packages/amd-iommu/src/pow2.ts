// POW2[k] = 2^k for k < 64, as a table: `2 ** k` with a variable k compiles to a call of the C
// library's pow() in V8 (about 900 instructions per 2 MiB map+unmap of a THP guest went there).
// Never written after this line.
export const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);
