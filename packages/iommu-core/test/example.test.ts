// The README's usage example (examples/usage.mjs) is the code the README shows, and the output the
// README shows is what it prints.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

// the example imports the package by name: run it against this source tree, not a possibly stale dist
vi.mock('@x/iommu-core', () => import('../src/index.js'));

const url = (p: string): URL => new URL(`../${p}`, import.meta.url);
const readme = readFileSync(url('README.md'), 'utf8');
const example = readFileSync(url('examples/usage.mjs'), 'utf8');
/** Body of the fenced block that follows the first line of the README starting with `lead`. */
const fenced = (lead: string): string => {
  const from = readme.indexOf('```', readme.indexOf(`\n${lead}`) + 1);
  return readme.slice(readme.indexOf('\n', from) + 1, readme.indexOf('\n```', from) + 1);
};

describe('iommu-core README usage example', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('test_readme_shows_the_example_file', () => {
    expect(fenced('`examples/usage.mjs`:')).toBe(example);
  });

  it('test_readme_output_is_real', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out.push(format(...a));
    });
    await import(url('examples/usage.mjs').href);
    expect(out.join('\n') + '\n').toBe(fenced('Real output (`node examples/usage.mjs`):'));
  });
});
