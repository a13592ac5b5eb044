// pnpm test:deep: the property, differential and fault-injection suites at nightly size. Each suite
// appends { suite, sequences, operations, divergences } to $DEEP_REPORT; this prints the totals and
// exits non-zero when a suite failed or diverged. CI runs the same files at their default (small,
// fixed-seed) size. Sizes: FC_RUNS, FC_MAXLEN, ISO_STEPS, FAULT_MAX_K, FUZZ_RUNS (defaults below).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const report = join(tmpdir(), `vfio-deep-${process.pid}.jsonl`);
const env = {
  ...process.env,
  DEEP_REPORT: report,
  FC_RUNS: process.env.FC_RUNS ?? '2500',
  FC_MAXLEN: process.env.FC_MAXLEN ?? '900',
  ISO_STEPS: process.env.ISO_STEPS ?? '20000',
  FAULT_MAX_K: process.env.FAULT_MAX_K ?? '1000000',
  FUZZ_RUNS: process.env.FUZZ_RUNS ?? '2000',
};
const suites = [
  ['packages/iommu-core', ['test/api.property.test.ts']],
  ['packages/amd-iommu', ['test/differential.test.ts']],
  ['packages/vfio-type1', ['test/isolation.test.ts', 'test/fault-injection.test.ts', 'test/differential.test.ts']],
  ['tools/vfio-sim', ['test/fuzz.test.ts']],
];
rmSync(report, { force: true });
let failed = 0;
const t0 = Date.now();
for (const [dir, files] of suites) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...files], {
    cwd: join(root, dir),
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.error(`test:deep: ${dir} failed (exit ${r.status})`);
  }
}
const rows = existsSync(report)
  ? readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
rmSync(report, { force: true });
const ops = rows.reduce((a, r) => a + r.operations, 0),
  div = rows.reduce((a, r) => a + r.divergences, 0);
for (const r of rows) console.log(`  ${r.suite.padEnd(28)} ${String(r.operations).padStart(9)} operations  ${r.divergences} divergences`);
console.log(
  `test:deep: ${ops} operations (counted suites; iommu-core api.property ran FC_RUNS=${env.FC_RUNS} sequences and the CLI fuzz FUZZ_RUNS=${env.FUZZ_RUNS} inputs per property, uncounted), ${div} divergences, ${failed} failed suites, ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
process.exitCode = failed > 0 || div > 0 ? 1 : 0;
