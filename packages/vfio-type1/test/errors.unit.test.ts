// errors.ts on its own: which thrown values count as a kernel errno (sysErrno), and how a core
// error becomes the container's VfioError (rethrowAsVfio), message and cause included.
import { describe, expect, it } from 'vitest';
import { IommuError } from '@x/iommu-core';
import { rethrowAsVfio, sysErrno } from '../src/errors.js';
import { VfioError } from '../src/index.js';
import { thrown } from './helpers.js';

describe('sysErrno', () => {
  it('test_only_errno_shaped_errors_count', () => {
    expect(sysErrno(new IommuError('ENOMEM', 'alloc_pages', 'no free block'))).toBe(-12);
    // duck-typed: a negative errno and a string code, from any realm
    expect(sysErrno({ errno: -22, code: 'EINVAL' })).toBe(-22);
    for (const v of [
      null,
      undefined,
      0,
      'EINVAL',
      {},
      { code: 'EINVAL' },
      { errno: -22 },
      { errno: 22, code: 'EINVAL' },
      { errno: 0, code: 'EOK' }, // 0 is success, never an errno
      { errno: '-22', code: 'EINVAL' },
    ])
      expect([v, sysErrno(v)]).toEqual([v, null]);
    expect(sysErrno(new Error('BUG: a plain error'))).toBe(null);
  });
});

describe('rethrowAsVfio', () => {
  it('test_core_error_becomes_vfio_error', () => {
    const inner = new IommuError('ENOMEM', 'alloc_pages', 'no free 2 MiB block left in host memory');
    const e = thrown(() => rethrowAsVfio(inner, 'mmap')) as VfioError;
    expect(e).toBeInstanceOf(VfioError);
    expect([e.code, e.errno, e.syscall, e.message, e.cause]).toEqual([
      'ENOMEM',
      -12,
      'mmap',
      'ENOMEM: no free 2 MiB block left in host memory (alloc_pages), mmap',
      inner,
    ]);
  });

  it('test_no_inner_syscall_adds_nothing', () => {
    // an errno-shaped error with no syscall of its own, or the same one: the detail alone
    const bare = thrown(() => rethrowAsVfio({ errno: -12, code: 'ENOMEM', message: 'out of frames' }, 'mmap')) as VfioError;
    expect(bare.message).toBe('ENOMEM: out of frames, mmap');
    const same = thrown(() => rethrowAsVfio(new IommuError('EFAULT', 'mmap', 'bad address'), 'mmap')) as VfioError;
    expect(same.message).toBe('EFAULT: bad address, mmap');
    const noMessage = thrown(() => rethrowAsVfio({ errno: -16, code: 'EBUSY' }, 'mmap')) as VfioError;
    expect(noMessage.message).toBe('EBUSY: EBUSY, mmap');
  });

  it('test_other_errors_pass_through', () => {
    const bug = new Error('BUG');
    expect(thrown(() => rethrowAsVfio(bug, 'mmap'))).toBe(bug);
    const v = new VfioError('EINVAL', 'mmap', 'already a VfioError');
    expect(thrown(() => rethrowAsVfio(v, 'other'))).toBe(v);
  });
});
