// The packages that have a mutation configuration, and --pkg / MUTATION_PKG resolution.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ALL = ['packages/iommu-core', 'packages/amd-iommu', 'packages/vfio-type1', 'tools/vfio-sim'];

export function wanted(argv) {
  const i = argv.indexOf('--pkg');
  const raw = i >= 0 ? argv[i + 1] : process.env.MUTATION_PKG;
  if (raw === undefined || raw === '') return ALL;
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const out = [];
  for (const n of names) {
    const dir = ALL.find((d) => d.endsWith(`/${n}`) || JSON.parse(readFileSync(join(root, d, 'package.json'), 'utf8')).name === n);
    if (dir === undefined) {
      console.error(`test:mutation: unknown package '${n}' (one of: ${ALL.map((d) => d.split('/')[1]).join(', ')})`);
      process.exit(2);
    }
    out.push(dir);
  }
  return out;
}
