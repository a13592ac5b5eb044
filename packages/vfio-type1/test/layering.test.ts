// The shape of src/: each file imports only from the layers below its own (so there is no import
// cycle, type-only imports included), every file has a layer, and no module holds mutable state
// (the kernel's locals live in per-call contexts owned by each container). README "Source layout"
// draws the same layers.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Bottom first. A file may import from any lower layer, never from its own or a higher one. */
const LAYERS: readonly (readonly string[])[] = [
  ['uapi', 'errors', 'events', 'timeline', 'stats', 'ctx'], // uapi structs, errno, cost events, releases, counters, loop contexts
  ['profiles', 'mm'], // a release's behaviours; processes and VMAs
  ['dma'], // struct vfio_dma and the dma tree
  ['iommu'], // struct vfio_iommu, vfio_domain
  ['accounting'], // vfio_lock_acct
  ['pin'], // vfio_pin_pages_remote / vfio_unpin_pages_remote
  ['unmap', 'checker'], // vfio_unmap_unpin, vfio_remove_dma; the safety checks
  ['map', 'attach'], // vfio_pin_map_dma; attach/detach group, replay
  ['ioctl'], // MAP_DMA, UNMAP_DMA, GET_INFO handlers
  ['container'], // the container fd
  ['group'], // struct vfio_group
  ['host'], // the host: creates groups, processes, containers
  ['index', 'internals'], // public exports; the ./internals subpath
];

/**
 * Modules a source file imports from src/ (static, type-only, re-exports, dynamic imports and
 * `declare module` augmentations all count), by name without '.js'.
 */
function localImports(text: string): string[] {
  const out = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\bdeclare\s+module\s+)['"]\.\/([\w./-]+?)(?:\.js)?['"]/g;
  for (const m of text.matchAll(re)) out.add(m[1]!);
  return [...out].sort();
}

/** A cycle in graph (module -> modules it imports) as [a, b, ..., a], or null when there is none. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1: on the DFS stack, 2: done
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (state.get(m) === undefined) {
        const c = visit(m);
        if (c !== null) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of [...graph.keys()].sort())
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c !== null) return c;
    }
  return null;
}

function srcFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

function graph(): Map<string, string[]> {
  return new Map(srcFiles().map((f) => [f, localImports(readFileSync(join(SRC, `${f}.ts`), 'utf8'))]));
}

describe('layering', () => {
  it('test_every_file_has_a_layer', () => {
    expect(srcFiles()).toEqual(LAYERS.flat().sort());
  });

  it('test_imports_point_down', () => {
    const layer = new Map(LAYERS.flatMap((l, k) => l.map((f) => [f, k] as const)));
    const up: string[] = [];
    for (const [f, deps] of graph()) {
      for (const d of deps) if (!((layer.get(d) ?? Infinity) < layer.get(f)!)) up.push(`${f} -> ${d}`);
    }
    expect(up).toEqual([]);
  });

  it('test_no_import_cycle', () => {
    expect(findCycle(graph())).toBe(null);
  });

  it('test_cycle_check_finds_cycles', () => {
    // the checks above would pass vacuously if the parser saw no imports: it must see these
    expect(
      localImports(
        `import type { A } from './a.js';\nexport { B } from "./b.js";\nconst c = await import('./c.js');\n` +
          `declare module './d.js' {}\nimport { E } from '@x/iommu-core';`,
      ),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(graph().get('container')).toContain('attach');
    expect(
      findCycle(
        new Map([
          ['host', ['container']],
          ['container', ['checker']],
          ['checker', ['container']],
        ]),
      ),
    ).toEqual(['checker', 'container', 'checker']);
    expect(
      findCycle(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toBe(null);
  });

  it('test_no_module_state', () => {
    // module-level `let`/`var`, or a top-level const bound to an object, array or instance that is
    // not frozen, is state every container would share; only these are allowed, for the reason given
    const allowed: Record<string, string> = {
      'profiles.ts cache': 'memo of frozen ProfileSpecs, each a function of its key',
      'container.ts IOCTL_NAMES': 'constant name table, typed ReadonlyMap and never written',
    };
    const found: string[] = [];
    for (const f of srcFiles()) {
      const text = readFileSync(join(SRC, `${f}.ts`), 'utf8');
      for (const m of text.matchAll(/^(?:export\s+)?(let|var|const)\s+(\w+)(?:\s*:[^=\n]+)?\s*=\s*(.*)$/gm)) {
        const [, kind, name, init] = m;
        // a const bound to a number, string, function or call result (Object.freeze(...)) is fine
        if (kind === 'const' && !/^(\{|\[|new\s)/.test(init!)) continue;
        found.push(`${f}.ts ${name!}`);
      }
    }
    expect(found.filter((x) => allowed[x] === undefined)).toEqual([]);
    expect(found.sort()).toEqual(Object.keys(allowed).sort());
  });
});
