// A small JSON Schema (2020-12 subset) validator for the result schema in docs/result.schema.json:
// $ref to #/$defs, anyOf, const, enum, type, properties, required, additionalProperties, items,
// prefixItems, minItems, maxItems, minimum, maximum, pattern. Returns the errors with their JSON paths.
// `report FILE` checks a saved result with it before rendering; the tests check fresh output.

type S = Record<string, unknown>;

export function validate(schema: S, value: unknown): string[] {
  const errs: string[] = [];
  const root = schema;
  const typeOk = (t: string, v: unknown): boolean => {
    switch (t) {
      case 'null':
        return v === null;
      case 'array':
        return Array.isArray(v);
      case 'object':
        return typeof v === 'object' && v !== null && !Array.isArray(v);
      case 'integer':
        return typeof v === 'number' && Number.isInteger(v);
      case 'number':
        return typeof v === 'number' && Number.isFinite(v);
      default:
        return typeof v === t;
    }
  };
  const walk = (s: S, v: unknown, path: string): void => {
    if (typeof s.$ref === 'string') {
      const name = (s.$ref as string).replace('#/$defs/', '');
      walk((root.$defs as Record<string, S>)[name]!, v, path);
      return;
    }
    if (Array.isArray(s.anyOf)) {
      if (!(s.anyOf as S[]).some((alt) => validate({ ...alt, $defs: root.$defs }, v).length === 0))
        errs.push(`${path}: matches no alternative`);
      return;
    }
    if ('const' in s && v !== s.const) errs.push(`${path}: want ${JSON.stringify(s.const)}`);
    if (Array.isArray(s.enum) && !s.enum.includes(v)) errs.push(`${path}: ${JSON.stringify(v)} not in enum`);
    if (s.type !== undefined) {
      const ts = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!ts.some((t) => typeOk(t, v))) {
        errs.push(`${path}: want ${ts.join('|')}, got ${JSON.stringify(v)?.slice(0, 40)}`);
        return;
      }
    }
    if (typeof s.minimum === 'number' && typeof v === 'number' && v < s.minimum) errs.push(`${path}: ${v} < ${s.minimum}`);
    if (typeof s.maximum === 'number' && typeof v === 'number' && v > s.maximum) errs.push(`${path}: ${v} > ${s.maximum}`);
    if (typeof s.pattern === 'string' && typeof v === 'string' && !new RegExp(s.pattern).test(v))
      errs.push(`${path}: '${v}' !~ ${s.pattern}`);
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) errs.push(`${path}: fewer than ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) errs.push(`${path}: more than ${s.maxItems} items`);
      const pre = (s.prefixItems as S[] | undefined) ?? [];
      v.forEach((x, i) => {
        if (i < pre.length) walk(pre[i]!, x, `${path}[${i}]`);
        else if (s.items !== undefined) walk(s.items as S, x, `${path}[${i}]`);
      });
    } else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      const props = (s.properties as Record<string, S> | undefined) ?? {};
      // own keys only: a saved file's 'constructor' or 'toString' is not a property the schema names
      for (const r of (s.required as string[] | undefined) ?? []) if (!Object.hasOwn(o, r)) errs.push(`${path}: missing '${r}'`);
      for (const [k, x] of Object.entries(o)) {
        if (Object.hasOwn(props, k)) walk(props[k]!, x, `${path}.${k}`);
        else if (s.additionalProperties === false) errs.push(`${path}: unexpected '${k}'`);
        else if (typeof s.additionalProperties === 'object') walk(s.additionalProperties as S, x, `${path}.${k}`);
      }
    }
  };
  walk(schema, value, '$');
  return errs;
}
