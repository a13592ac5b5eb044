// pnpm test:mutation: StrykerJS over every package that has a stryker.config.json, one after the
// other (each uses both cores), after building the libraries the others' tests import through dist.
// Not part of CI: a package takes 20-60 minutes here. Reruns are incremental (reports/mutation/).
//   pnpm test:mutation --pkg iommu-core       one package (directory name or package name)
//   MUTATION_PKG=amd-iommu,vfio-type1 pnpm test:mutation
//   pnpm test:mutation --pkg iommu-core --force --mutate "src/gather.ts"   other arguments go to stryker run
// Reports: <package>/reports/mutation/mutation.html and mutation.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ALL = ['packages/iommu-core', 'packages/amd-iommu', 'packages/vfio-type1', 'tools/vfio-sim'];

function wanted() {
  const i = process.argv.indexOf('--pkg');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.MUTATION_PKG;
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

/** Arguments for `stryker run`: everything but --pkg and its value. */
const pk = process.argv.indexOf('--pkg');
const passArgs = process.argv.slice(2).filter((_, i) => pk < 0 || (i !== pk - 2 && i !== pk - 1));
const dirs = wanted().filter((d) => existsSync(join(root, d, 'stryker.config.json')));
const build = spawnSync(process.execPath, [join(root, 'node_modules/turbo/bin/turbo'), 'run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const d of dirs) {
  console.log(`\ntest:mutation: ${d}`);
  const stryker = join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js');
  const r = spawnSync(process.execPath, [stryker, 'run', ...passArgs], { cwd: join(root, d), stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`test:mutation: ${d} failed (exit ${r.status})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
