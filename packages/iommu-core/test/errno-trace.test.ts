// The error classes' contract with other copies of this package (the CJS and ESM builds, another
// installed version): the brands are process-wide Symbol.for keys under fixed names, and the
// tracer's defaults and event shapes as a sink or a reader of `events` sees them.
import { describe, expect, it } from 'vitest';
import { errnoName, IommuError, isIommuError, isSysError, SysError, Tracer } from '../src/index.js';
import { SimClock } from '../src/sim/clock.js';

describe('errno names and error brands', () => {
  it('test_errno_name_unknown: a number outside the table is a RangeError naming it, either sign', () => {
    expect(errnoName(-16)).toBe('EBUSY');
    expect(errnoName(16)).toBe('EBUSY');
    for (const n of [0, 9999, -9999, 1.5]) expect(() => errnoName(n)).toThrow(new RangeError(`unknown errno ${n}`));
  });

  it('test_error_brands_are_process_wide_keys: an error from another copy of the package passes the guards', () => {
    // what a second copy's classes put on their prototypes: the same Symbol.for names
    const other = Object.create(Error.prototype, {
      [Symbol.for('@x/iommu-core.SysError')]: { value: true },
      [Symbol.for('@x/iommu-core.IommuError')]: { value: true },
    });
    expect([isSysError(other), isIommuError(other)]).toEqual([true, true]);
    const e = new IommuError('EINVAL', 'iommu_map', 'x');
    const ours = e as unknown as Record<symbol, unknown>;
    expect([ours[Symbol.for('@x/iommu-core.SysError')], ours[Symbol.for('@x/iommu-core.IommuError')]]).toEqual([true, true]);
    expect([isSysError({}), isIommuError(new SysError('EINVAL', 'x', 'y'))]).toEqual([false, false]);
  });

  it('test_sys_error_fields: name, code, negative errno, syscall and the message', () => {
    const e = new SysError('ENOMEM', 'vfio_pin', 'out of frames');
    expect([e.name, e.code, e.errno, e.syscall, e.message]).toEqual([
      'SysError',
      'ENOMEM',
      -12,
      'vfio_pin',
      'ENOMEM: out of frames, vfio_pin',
    ]);
    expect(new IommuError('EBUSY', 'iommu_attach_device', 'd').name).toBe('IommuError');
  });
});

describe('Tracer', () => {
  it('test_tracer_defaults: off, every detail level, no sink', () => {
    const t = new Tracer(new SimClock());
    expect([t.on, t.detail, t.sink, t.events]).toEqual([false, 3, null, []]);
    expect(new Tracer(new SimClock(), true).on).toBe(true);
  });

  it('test_tracer_events: each kind at the clock time, instants keep their name, clear empties the list', () => {
    const clock = new SimClock();
    const t = new Tracer(clock, true);
    t.begin('vfio', 'map', { iova: '0x0' });
    clock.advance(5);
    t.instant('iommu', 'sync');
    t.counter('iommu', 'pinned', { pages: 2 });
    clock.advance(7);
    t.end('vfio', 'map');
    expect(t.events).toEqual([
      { ph: 'B', name: 'map', ts: 0, track: 'vfio', args: { iova: '0x0' } },
      { ph: 'i', name: 'sync', ts: 5, track: 'iommu', args: undefined },
      { ph: 'C', name: 'pinned', ts: 5, track: 'iommu', args: { pages: 2 } },
      { ph: 'E', name: 'map', ts: 12, track: 'vfio', args: undefined },
    ]);
    t.clear();
    expect(t.events).toEqual([]);
    const seen: string[] = [];
    t.sink = (e) => seen.push(`${e.ph}:${e.name}@${e.ts}`);
    t.instant('iommu', 'flush');
    expect([seen, t.events.length]).toEqual([['i:flush@12'], 0]);
  });
});
