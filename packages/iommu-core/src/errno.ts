// Models the kernel's errno values and the Node-style error objects every failing call throws.

export const ERRNO = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
} as const);
export type ErrnoCode = keyof typeof ERRNO;

const BY_NUMBER = new Map<number, ErrnoCode>((Object.keys(ERRNO) as ErrnoCode[]).map((k) => [ERRNO[k], k]));

/** Name of a (positive or negative) errno number, e.g. -16 -> 'EBUSY'. Throws on an unknown number. */
export function errnoName(errno: number): ErrnoCode {
  const name = BY_NUMBER.get(Math.abs(errno));
  if (name === undefined) throw new RangeError(`unknown errno ${errno}`);
  return name;
}

/**
 * Brands that survive the dual package: the CJS and ESM builds each define their own classes, so an
 * error thrown by one fails `instanceof` in the other. Symbol.for() keys are shared by the whole
 * process (every realm and module copy), so the guards below test these instead.
 */
const SYS_ERROR_BRAND = Symbol.for('@x/iommu-core.SysError');
const IOMMU_ERROR_BRAND = Symbol.for('@x/iommu-core.IommuError');

/** Shared base: `code`, negative `errno` and `syscall`, like Node's system errors. */
export class SysError extends Error {
  readonly code: ErrnoCode;
  readonly errno: number;
  readonly syscall: string;
  constructor(code: ErrnoCode, syscall: string, detail: string) {
    super(`${code}: ${detail}, ${syscall}`);
    this.name = 'SysError';
    this.code = code;
    this.errno = -ERRNO[code];
    this.syscall = syscall;
  }
  // runtime-only brand on the prototype: an error's own keys stay as they were, and the declared
  // types stay structural (the .d.ts and .d.cts copies of the class remain assignable to each other)
  static {
    Object.defineProperty(SysError.prototype, SYS_ERROR_BRAND, { value: true });
  }
}

/** Thrown by the IOMMU core API (`syscall` is the kernel entry point, e.g. 'iommu_map'). */
export class IommuError extends SysError {
  constructor(code: ErrnoCode, syscall: string, detail: string) {
    super(code, syscall, detail);
    this.name = 'IommuError';
  }
  static {
    Object.defineProperty(IommuError.prototype, IOMMU_ERROR_BRAND, { value: true });
  }
}

/**
 * True for any SysError (IommuError, @x/vfio-type1's VfioError, ...) from any copy of this package:
 * the CJS or the ESM build, or another installed version. Use it instead of `instanceof SysError`.
 */
export function isSysError(e: unknown): e is SysError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[SYS_ERROR_BRAND] === true;
}

/** True for an IommuError (or a subclass) from any copy of this package; see isSysError. */
export function isIommuError(e: unknown): e is IommuError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[IOMMU_ERROR_BRAND] === true;
}
