// Models the errno a VFIO ioctl returns, as a Node-style system error (spec vfio-type1 §4, §6).

import { SysError, type ErrnoCode } from '@x/iommu-core';

/**
 * Brand of VfioError. `Symbol.for` gives the same symbol in every copy of this package (the ESM and
 * the CJS build loaded side by side, or two installed versions), where `instanceof` would not match.
 */
const VFIO_ERROR_BRAND = Symbol.for('@x/vfio-type1.VfioError');

/** Thrown by container ioctls: `{ code: 'EINVAL', errno: -22, syscall: 'VFIO_IOMMU_MAP_DMA', message }`. */
export class VfioError extends SysError {
  /** @param cause the error this one reports (a core allocator error re-thrown by mmap). */
  constructor(code: ErrnoCode, syscall: string, detail: string, cause?: unknown) {
    super(code, syscall, detail);
    this.name = 'VfioError';
    if (cause !== undefined) this.cause = cause;
  }
  // on the prototype, as @x/iommu-core brands SysError: every instance has it, its own keys stay
  // code/errno/name/syscall, and the declared type stays structural
  static {
    Object.defineProperty(VfioError.prototype, VFIO_ERROR_BRAND, { value: true });
  }
}

/**
 * True for a VfioError from any copy of this package: the CJS and the ESM build each define their
 * own class, so an error from one fails `instanceof` of the other. Tests the
 * `Symbol.for('@x/vfio-type1.VfioError')` brand every VfioError carries (a plain object shaped like
 * one is not a VfioError).
 */
export function isVfioError(e: unknown): e is VfioError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[VFIO_ERROR_BRAND] === true;
}

/**
 * The negative errno of an error thrown by the IOMMU core or a driver, or null for anything else
 * (a bug, rethrown by callers). Duck-typed so a core loaded twice (ESM + CJS) still matches.
 */
export function sysErrno(e: unknown): number | null {
  if (typeof e === 'object' && e !== null) {
    const x = e as { errno?: unknown; code?: unknown };
    if (typeof x.errno === 'number' && x.errno < 0 && typeof x.code === 'string') return x.errno;
  }
  return null;
}

/**
 * Re-throws a core SysError (IommuError from the frame allocator, ...) as a VfioError of the same
 * code and errno under `syscall`, keeping the original as `cause`; anything else is rethrown as is.
 * The detail stays the core's, with its entry point when that differs:
 * `ENOMEM: no free 2 MiB block left in host memory (alloc_pages), mmap`.
 */
export function rethrowAsVfio(e: unknown, syscall: string): never {
  if (sysErrno(e) === null || isVfioError(e)) throw e;
  const x = e as { code: ErrnoCode; syscall?: unknown; message?: unknown };
  const inner = typeof x.syscall === 'string' ? x.syscall : '';
  let detail = typeof x.message === 'string' ? x.message : String(x.code);
  if (detail.startsWith(`${x.code}: `)) detail = detail.slice(x.code.length + 2);
  if (inner !== '' && detail.endsWith(`, ${inner}`)) detail = detail.slice(0, -(inner.length + 2));
  throw new VfioError(x.code, syscall, inner === '' || inner === syscall ? detail : `${detail} (${inner})`, e);
}
