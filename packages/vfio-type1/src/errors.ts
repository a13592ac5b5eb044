// Models the errno a VFIO ioctl returns, as a Node-style system error (spec vfio-type1 §4, §6).

import { SysError, type ErrnoCode } from '@x/iommu-core';

/** Thrown by container ioctls: `{ code: 'EINVAL', errno: -22, syscall: 'VFIO_IOMMU_MAP_DMA', message }`. */
export class VfioError extends SysError {
  constructor(code: ErrnoCode, syscall: string, detail: string) {
    super(code, syscall, detail);
    this.name = 'VfioError';
  }
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
