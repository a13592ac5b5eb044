// The README's usage example (TypeScript-user review of @x/vfio-type1, items 8-9): it is
// examples/qemu-session.mjs, it type-checks as a strict .mts, and the output the README shows is what
// it prints. The install section states the TypeScript floor of the types.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as core from '@x/iommu-core';
import * as vfio from '../src/index.js';
import { typecheck } from './typecheck.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const EXAMPLE = readFileSync(new URL('../examples/qemu-session.mjs', import.meta.url), 'utf8');

/** The first fenced block of `lang` after `heading`, without its fences. */
function block(md: string, heading: string, lang: string): string {
  const at = md.indexOf(heading);
  expect(at).toBeGreaterThanOrEqual(0);
  const start = md.indexOf('```' + lang + '\n', at) + 4 + lang.length;
  return md.slice(start, md.indexOf('```\n', start));
}
const SNIPPET = block(README, '## Usage', 'js');

/** Runs the snippet in this process (imports bound to the source modules), returning what it logged. */
function run(src: string): string {
  const mods: Record<string, Record<string, unknown>> = { '@x/iommu-core': core, '@x/vfio-type1': vfio };
  const names: string[] = [],
    values: unknown[] = [];
  const body = src.replace(/import\s*\{([^}]*)\}\s*from\s*'([^']+)';/g, (_m, list: string, from: string) => {
    const mod = mods[from];
    if (mod === undefined) throw new Error(`the example imports ${from}`);
    for (const n of list
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')) {
      if (!(n in mod)) throw new Error(`${from} has no export ${n}`);
      names.push(n);
      values.push(mod[n]);
    }
    return '';
  });
  expect(body).not.toMatch(/^\s*import\b/m);
  const lines: string[] = [];
  const console = { log: (...a: unknown[]) => lines.push(a.map(String).join(' ')) };
  new Function(...names, 'console', body)(...values, console);
  return lines.join('\n') + '\n';
}

describe('readme_example qemu-session', () => {
  it('test_readme_example_is_the_file', () => {
    const head = EXAMPLE.slice(0, EXAMPLE.length - SNIPPET.length);
    expect(EXAMPLE.endsWith(SNIPPET)).toBe(true);
    expect(
      head
        .split('\n')
        .filter((l) => l !== '')
        .every((l) => l.startsWith('//')),
    ).toBe(true);
  });

  it('test_readme_example_typechecks_as_strict_mts', () => {
    // strict + noUncheckedIndexedAccess + exactOptionalPropertyTypes: literal profiles, narrowed catch, checked devices[0]
    expect(typecheck({ 'qemu-session.mts': SNIPPET })).toEqual({ 'qemu-session.mts': [] });
  }, 60_000);

  it('test_readme_output_is_real', () => {
    const shown = block(README, 'Output (`node examples/qemu-session.mjs`)', '');
    expect(run(SNIPPET)).toBe(shown);
  }, 60_000);

  it('test_readme_install_states_typescript_floor', () => {
    const install = README.slice(README.indexOf('## Install'), README.indexOf('## Usage'));
    expect(install).toContain('TypeScript 5.7 or later');
  });
});
