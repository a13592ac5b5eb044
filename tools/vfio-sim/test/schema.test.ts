// The result-schema validator on small schemas: each keyword it reads, the exact error and JSON path
// it gives, and own properties only (a saved file's 'constructor' is an unexpected property).

import { describe, expect, it } from 'vitest';
import { validate } from '../src/report/schema.js';

describe('schema validator', () => {
  it('test_types', () => {
    const t = (type: unknown, v: unknown) => validate({ type }, v);
    expect(t('null', null)).toEqual([]);
    expect(t('null', 0)).toEqual(['$: want null, got 0']);
    expect(t('array', [])).toEqual([]);
    expect(t('array', {})).toEqual(['$: want array, got {}']);
    expect(t('object', {})).toEqual([]);
    expect(t('object', [])).toEqual(['$: want object, got []']);
    expect(t('object', null)).toEqual(['$: want object, got null']);
    expect(t('integer', 3)).toEqual([]);
    expect(t('integer', 3.5)).toEqual(['$: want integer, got 3.5']);
    expect(t('integer', '3')).toEqual(['$: want integer, got "3"']);
    expect(t('number', 3.5)).toEqual([]);
    expect(t('number', Infinity)).toEqual(['$: want number, got null']);
    expect(t('number', Number.NaN)).toEqual(['$: want number, got null']);
    expect(t('string', 's')).toEqual([]);
    expect(t('boolean', 1)).toEqual(['$: want boolean, got 1']);
    expect(t(['string', 'null'], null)).toEqual([]);
    expect(t(['string', 'null'], 2)).toEqual(['$: want string|null, got 2']);
    // a long value is cut to 40 characters in the message
    expect(t('number', 'x'.repeat(60))).toEqual([`$: want number, got "${'x'.repeat(39)}`]);
    // a type error stops there: no further checks of that value
    expect(validate({ type: 'string', minimum: 5, const: 'a' }, 2)).toEqual(['$: want "a"', '$: want string, got 2']);
  });

  it('test_values', () => {
    expect(validate({ const: 'x' }, 'x')).toEqual([]);
    expect(validate({ const: 'x' }, 'y')).toEqual(['$: want "x"']);
    expect(validate({ const: null }, 0)).toEqual(['$: want null']);
    expect(validate({ enum: ['a', 1] }, 1)).toEqual([]);
    expect(validate({ enum: ['a', 1] }, 'b')).toEqual(['$: "b" not in enum']);
    expect(validate({ minimum: 0, maximum: 10 }, 0)).toEqual([]);
    expect(validate({ minimum: 0, maximum: 10 }, 10)).toEqual([]);
    expect(validate({ minimum: 0, maximum: 10 }, -1)).toEqual(['$: -1 < 0']);
    expect(validate({ minimum: 0, maximum: 10 }, 11)).toEqual(['$: 11 > 10']);
    // bounds and patterns apply to their own kind of value only
    expect(validate({ minimum: 0, pattern: '^a' }, 'zz')).toEqual(["$: 'zz' !~ ^a"]);
    expect(validate({ minimum: 0, pattern: '^a' }, -3)).toEqual(['$: -3 < 0']);
    expect(validate({ pattern: '^0x[0-9a-f]+$' }, '0x1f')).toEqual([]);
  });

  it('test_arrays', () => {
    const s = { type: 'array', minItems: 2, maxItems: 3, prefixItems: [{ type: 'string' }], items: { type: 'integer' } };
    expect(validate(s, ['a', 1])).toEqual([]);
    expect(validate(s, ['a'])).toEqual(['$: fewer than 2 items']);
    expect(validate(s, ['a', 1, 2, 3])).toEqual(['$: more than 3 items']);
    expect(validate(s, [1, 'b', 2.5])).toEqual(['$[0]: want string, got 1', '$[1]: want integer, got "b"', '$[2]: want integer, got 2.5']);
    // no items schema: what follows the prefix is free
    expect(validate({ prefixItems: [{ const: 1 }] }, [1, 'x', {}])).toEqual([]);
  });

  it('test_objects', () => {
    const s = {
      type: 'object',
      required: ['a', 'b'],
      properties: { a: { type: 'integer' }, b: { type: 'string' }, c: { const: true } },
      additionalProperties: false,
    };
    expect(validate(s, { a: 1, b: 'x' })).toEqual([]);
    expect(validate(s, { a: 1.5, c: false, d: 0 })).toEqual([
      "$: missing 'b'",
      '$.a: want integer, got 1.5',
      '$.c: want true',
      "$: unexpected 'd'",
    ]);
    // open objects: anything else passes; a schema for the rest checks each
    expect(validate({ properties: { a: { type: 'integer' } } }, { a: 1, z: 'free' })).toEqual([]);
    expect(validate({ additionalProperties: { type: 'number' } }, { x: 1, y: 'no' })).toEqual(['$.y: want number, got "no"']);
  });

  it('test_own_properties_only', () => {
    const s = { type: 'object', required: ['toString'], properties: { a: { type: 'integer' } }, additionalProperties: false };
    // required 'toString' is there (its own); none of the three is a property the schema names
    expect(validate(s, JSON.parse('{"toString":1,"constructor":2,"__proto__":3}'))).toEqual([
      "$: unexpected 'toString'",
      "$: unexpected 'constructor'",
      "$: unexpected '__proto__'",
    ]);
    expect(validate({ required: ['constructor'] }, {})).toEqual(["$: missing 'constructor'"]);
  });

  it('test_refs_and_alternatives', () => {
    const s = {
      $defs: { hex: { type: 'string', pattern: '^0x' }, n: { type: 'integer', minimum: 0 } },
      type: 'object',
      properties: { v: { anyOf: [{ $ref: '#/$defs/hex' }, { $ref: '#/$defs/n' }] }, h: { $ref: '#/$defs/hex' } },
    };
    expect(validate(s, { v: '0x1', h: '0x2' })).toEqual([]);
    expect(validate(s, { v: 7 })).toEqual([]);
    expect(validate(s, { v: -1 })).toEqual(['$.v: matches no alternative']);
    expect(validate(s, { v: 'zz', h: 5 })).toEqual(['$.v: matches no alternative', '$.h: want string, got 5']);
  });

  it('test_nested_paths_and_missing_values', () => {
    const s = {
      type: 'object',
      properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'integer' } }, required: ['c'] } } },
    };
    expect(validate(s, { a: [{ c: 1 }, { b: 'x' }] })).toEqual(["$.a[1]: missing 'c'", '$.a[1].b: want integer, got "x"']);
    // bounds are for numbers, item counts for arrays, properties for objects: a string is none of them
    expect(validate({ minimum: 0, maximum: 10 }, '-1')).toEqual([]);
    expect(validate({ maximum: 10 }, '11')).toEqual([]);
    expect(validate({ required: ['a'], additionalProperties: false }, 'ab')).toEqual([]);
    expect(validate({ type: 'object' }, 'x')).toEqual(['$: want object, got "x"']);
    // a value that JSON cannot write (undefined) is named as such
    expect(validate({ type: 'number' }, undefined)).toEqual(['$: want number, got undefined']);
  });
});
