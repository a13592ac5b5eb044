// deepFreeze, which makes the exported tables (timelines, machines) read-only all the way down.
import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../src/internals.js';

describe('deepFreeze', () => {
  it('test_deep_freeze_values_pass_through: primitives, null and undefined come back as they are', () => {
    for (const v of [null, undefined, 0, 'thp', true, 12n]) expect(deepFreeze(v)).toBe(v);
  });

  it('test_deep_freeze_reaches_every_object: nested objects and arrays, below an object frozen already', () => {
    const leaf = { ns: 1 };
    const frozenParent = Object.freeze({ costs: leaf }); // frozen, its child not
    const t = deepFreeze({ a: [{ b: { c: [1, 2] } }], frozenParent });
    const all = [t, t.a, t.a[0]!, t.a[0]!.b, t.a[0]!.b.c, frozenParent, leaf];
    expect(all.map((o) => Object.isFrozen(o))).toEqual(all.map(() => true));
    expect(() => {
      (leaf as { ns: number }).ns = 2;
    }).toThrow(TypeError); // test files are ES modules: strict mode
  });

  it('test_deep_freeze_cycles_end: an object that refers to itself or to its parent', () => {
    const a: { self?: unknown; kids: { up?: unknown }[] } = { kids: [{}] };
    a.self = a;
    a.kids[0]!.up = a;
    expect(deepFreeze(a)).toBe(a);
    expect([Object.isFrozen(a), Object.isFrozen(a.kids), Object.isFrozen(a.kids[0])]).toEqual([true, true, true]);
  });
});
