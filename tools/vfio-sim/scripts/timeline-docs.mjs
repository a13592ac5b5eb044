// pnpm docs:timeline: writes each package's timeline table into its docs/spec.md between the
// timeline markers, from the built packages' data (the tables the timeline tests compare with).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_TIMELINE } from '@x/iommu-core';
import { withTimelineTable } from '@x/iommu-core/internals';
import { AMD_TIMELINE } from '@x/amd-iommu';
import { VFIO_TIMELINE } from '@x/vfio-type1';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
for (const [pkg, entries] of [
  ['iommu-core', CORE_TIMELINE],
  ['amd-iommu', AMD_TIMELINE],
  ['vfio-type1', VFIO_TIMELINE],
]) {
  const file = join(root, 'packages', pkg, 'docs', 'spec.md');
  const md = readFileSync(file, 'utf8'),
    next = withTimelineTable(md, entries);
  if (next !== md) writeFileSync(file, next);
  console.log(`${next === md ? 'unchanged' : 'updated  '} packages/${pkg}/docs/spec.md (${entries.length} entries)`);
}
