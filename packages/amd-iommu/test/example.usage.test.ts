// The README's usage example (examples/usage.mjs): the README shows the same code and the output it
// really prints, and the code typechecks as TypeScript under strict flags.
// Regression for the TypeScript-user API review (item 4: readPte's null, `unknown` in catch).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';

// the example imports the package by name; run it against this source tree, not a possibly stale dist
vi.mock('@x/amd-iommu', () => import('../src/index.js'));

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = readFileSync(join(PKG, 'examples/usage.mjs'), 'utf8');
const README = readFileSync(join(PKG, 'README.md'), 'utf8');

/** The text of the first fenced block after `marker` in the README. */
function readmeBlock(marker: string): string {
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README has no '${marker}'`);
  const open = README.indexOf('```', at);
  const start = README.indexOf('\n', open) + 1;
  return README.slice(start, README.indexOf('```', start));
}

/** Typechecks in-memory .mts modules placed in the package directory; returns the diagnostics as text. */
function typecheck(files: Readonly<Record<string, string>>, options: ts.CompilerOptions): string[] {
  const virt = new Map(Object.entries(files).map(([name, text]) => [join(PKG, name), text]));
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => virt.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virt.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, onError, create) => {
    const text = virt.get(f);
    return text === undefined ? getSourceFile.call(host, f, lang, onError, create) : ts.createSourceFile(f, text, lang);
  };
  const program = ts.createProgram([...virt.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return msg;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.slice(PKG.length + 1)}:${line + 1}: ${msg}`;
  });
}

/** A consumer under exactOptionalPropertyTypes: options set to undefined, the event and command names. */
const CONSUMER = `
import { createSim, type IotlbPolicy } from '@x/iommu-core';
import { createAmdIommu, type AmdEvent, type AmdIommuOptions, type CmdName } from '@x/amd-iommu';
import { AmdIommuHw, createAmdv1Format } from '@x/amd-iommu/internals';
declare const maybe: { n: number | undefined; policy: IotlbPolicy | undefined; name: string | undefined };
const sim = createSim({ memory: 1n << 30n, seed: 1 });
const opts: AmdIommuOptions = {
  profile: undefined, quirks: { keepTables: undefined, ebusyOnPresent: true }, iotlbEntries: maybe.n,
  iotlbPolicy: maybe.policy, vaBits: undefined, resvRegions: undefined, name: maybe.name,
};
const amd = createAmdIommu(sim, opts);
export const hw = new AmdIommuHw(sim, { iotlbEntries: maybe.n, iotlbPolicy: maybe.policy, cmdEntries: undefined });
export const fmt = createAmdv1Format({ forceCoherence: undefined });
export function kind(ev: AmdEvent): 1 | 2 {
  switch (ev.type) {
    case 'IO_PAGE_FAULT': return 1;
    case 'ILLEGAL_COMMAND_ERROR': return 2;
    default: { const none: never = ev.type; return none; }
  }
}
export const byName = (n: CmdName): number => amd.commands()[n];
// @ts-expect-error -- not a command name
export const badCmd = amd.commands().INVALIDATE_EVERYTHING;
// @ts-expect-error -- not an event this hardware logs
export const badType: AmdEvent['type'] = 'DEV_TAB_HARDWARE_ERROR';
`;

describe('amd_iommu README usage example', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('test_usage_example_in_readme', () => {
    // the README shows the example file without its two header comment lines
    expect(readmeBlock('## Usage')).toBe(EXAMPLE.split('\n').slice(2).join('\n'));
  });

  it('test_usage_example_output', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(format(...args));
    });
    // the mock is in force: the example's '@x/amd-iommu' is this source tree
    expect((await import('@x/amd-iommu')).createAmdIommu).toBe((await import('../src/index.js')).createAmdIommu);
    const example: string = pathToFileURL(join(PKG, 'examples/usage.mjs')).href; // not a literal: no .d.ts for it
    await import(example);
    expect(lines.join('\n') + '\n').toBe(readmeBlock('Output (`node examples/usage.mjs`'));
  });

  it('test_usage_example_typechecks', () => {
    // copied to .mts, as a TypeScript user would: strict, unchecked index access, exact optional properties
    const diags = typecheck(
      { 'examples/usage.mts': EXAMPLE, 'examples/consumer.mts': CONSUMER },
      {
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2022.d.ts'],
        types: ['node'],
        skipLibCheck: true,
        paths: { '@x/amd-iommu': [join(PKG, 'src/index.ts')] },
      },
    );
    expect(diags).toEqual([]);
  }, 60_000);
});
