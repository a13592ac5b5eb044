// Byte sizes as people write them: 64G, 64GiB, 512M, 4K, 1T, or plain bytes (optionally 0x hex).

import { UsageError } from '../errors.js';

const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n };

/** Parses a size; throws UsageError naming `option` when it is not a positive whole number of bytes. */
export function parseSize(text: string, option: string): bigint {
  const t = String(text).trim();
  if (/^0x[0-9a-f]+$/i.test(t)) {
    const v = BigInt(t);
    if (v <= 0n) throw new UsageError(option, `size must be positive, got '${text}'`);
    return v;
  }
  const m = /^(\d+)(?:\.(\d+))?\s*([KMGTP]?)(?:i?B)?$/i.exec(t);
  if (m === null) throw new UsageError(option, `bad size '${text}' (examples: 64G, 512M, 4K, 1T, 4096)`);
  const unit = UNITS[m[3]!.toUpperCase()]!;
  const frac = m[2] ?? '';
  const scale = 10n ** BigInt(frac.length);
  const num = BigInt(m[1]!) * scale + (frac === '' ? 0n : BigInt(frac));
  if ((num * unit) % scale !== 0n) throw new UsageError(option, `bad size '${text}': not a whole number of bytes`);
  const v = (num * unit) / scale;
  if (v <= 0n) throw new UsageError(option, `size must be positive, got '${text}'`);
  return v;
}

/**
 * Formats bytes compactly with binary units: 64 GiB, 2 MiB, 640 KiB, 1026 MiB, 1023.25 MiB, 4.00 KiB, 512 B.
 * A whole number of a unit is shown exactly while it has at most four digits; beyond that (1047808
 * KiB) the next unit up with two decimals reads better.
 */
export function fmtSize(bytes: bigint | number): string {
  const b = BigInt(bytes);
  for (const [u, s] of [
    ['PiB', 50n],
    ['TiB', 40n],
    ['GiB', 30n],
    ['MiB', 20n],
    ['KiB', 10n],
  ] as const) {
    const unit = 1n << s;
    if (b >= unit && b % unit === 0n && (b / unit < 10000n || u === 'PiB')) return `${b / unit} ${u}`;
  }
  for (const [u, s] of [
    ['PiB', 50n],
    ['TiB', 40n],
    ['GiB', 30n],
    ['MiB', 20n],
    ['KiB', 10n],
  ] as const) {
    const unit = 1n << s;
    if (b >= unit) return `${(Number(b) / Number(unit)).toFixed(2)} ${u}`;
  }
  return `${b} B`;
}

/** Short form used in scenario JSON: '64G', '640K', '4096'. Round-trips through parseSize. */
export function shortSize(bytes: bigint): string {
  for (const [u, s] of [
    ['T', 40n],
    ['G', 30n],
    ['M', 20n],
    ['K', 10n],
  ] as const) {
    const unit = 1n << s;
    if (bytes >= unit && bytes % unit === 0n) return `${bytes / unit}${u}`;
  }
  return String(bytes);
}
