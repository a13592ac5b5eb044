// Type-checks consumer modules (in memory) against this package's types the way a strict TypeScript
// user compiles them: strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, NodeNext, .mts.
// '@x/vfio-type1' resolves to src/index.ts, so no build is needed; '@x/iommu-core' to its package.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = path.join(ROOT, 'test', '__consumer__');

export const CONSUMER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noEmit: true,
  skipLibCheck: true,
  paths: { '@x/vfio-type1': [path.join(ROOT, 'src', 'index.ts')] },
};

/**
 * Compiles the given modules (name -> source, e.g. 'example.mts') in one program and returns, per
 * module, its diagnostics as "line:col TS<code>: message" (only the consumer modules' own).
 */
export function typecheck(files: Record<string, string>): Record<string, string[]> {
  const virtual = new Map(Object.entries(files).map(([n, src]) => [path.join(DIR, n), src] as const));
  const host = ts.createCompilerHost(CONSUMER_OPTIONS, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, onError, create) => {
    const src = virtual.get(f);
    return src !== undefined ? ts.createSourceFile(f, src, lang, true) : getSourceFile.call(host, f, lang, onError, create);
  };
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
  host.getCurrentDirectory = () => ROOT;
  const program = ts.createProgram([...virtual.keys()], CONSUMER_OPTIONS, host);
  const out: Record<string, string[]> = {};
  for (const [f] of virtual) {
    const sf = program.getSourceFile(f)!;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    out[path.basename(f)] = diags.map((d) => {
      const { line, character } = sf.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${line + 1}:${character + 1} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  }
  return out;
}
