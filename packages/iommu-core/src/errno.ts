// Models the kernel's errno values and the Node-style error objects every failing call throws.

export const ERRNO = {
  EPERM: 1, ENOENT: 2, EIO: 5, ENXIO: 6, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, ENOSPC: 28, ERANGE: 34, EOVERFLOW: 75,
  EOPNOTSUPP: 95, EADDRINUSE: 98,
} as const;
export type ErrnoCode = keyof typeof ERRNO;

const BY_NUMBER = new Map<number, ErrnoCode>(
  (Object.keys(ERRNO) as ErrnoCode[]).map((k) => [ERRNO[k], k]),
);

/** Name of a (positive or negative) errno number, e.g. -16 -> 'EBUSY'. Throws on an unknown number. */
export function errnoName(errno: number): ErrnoCode {
  const name = BY_NUMBER.get(Math.abs(errno));
  if (name === undefined) throw new RangeError(`unknown errno ${errno}`);
  return name;
}

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
}

/** Thrown by the IOMMU core API (`syscall` is the kernel entry point, e.g. 'iommu_map'). */
export class IommuError extends SysError {
  constructor(code: ErrnoCode, syscall: string, detail: string) {
    super(code, syscall, detail);
    this.name = 'IommuError';
  }
}
