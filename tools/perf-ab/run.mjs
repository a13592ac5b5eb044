// pnpm bench:ab <treeA> <treeB> [case...]: a same-run A/B in instructions, not wall time. Each case
// runs under callgrind (valgrind) in a single-threaded node, twice per checkout with two op counts;
// the difference divided by the extra ops is the instructions per op, free of start-up, module
// loading and warm-up. Instruction counts do not move with the load of a shared VM, where the wall
// time of these cases moves by 2x between runs (issue 14's A/B). Both checkouts must be built
// (`pnpm install && pnpm turbo run build` in each). About 30 s per run; 40 runs for all cases.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES } from './cases.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.length < 2) {
  console.error('bench:ab: usage: pnpm bench:ab <checkout A> <checkout B> [case ...]');
  process.exit(2);
}
const [a, b] = args.slice(0, 2).map((t) => resolve(t));
const cases = args.length > 2 ? args.slice(2) : Object.keys(CASES);
for (const c of cases)
  if (!(c in CASES)) {
    console.error(`bench:ab: unknown case '${c}' (${Object.keys(CASES).join(', ')})`);
    process.exit(2);
  }
for (const t of [a, b])
  if (!existsSync(join(t, 'packages/iommu-core/dist/index.js'))) {
    console.error(`bench:ab: ${t} has no built packages/iommu-core/dist (build it first)`);
    process.exit(2);
  }
if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench:ab: needs valgrind (apt-get install valgrind)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-ab-'));
/** Instructions of one callgrind run of case c with n ops against checkout t. */
function instructions(t, c, n) {
  const out = join(dir, 'cg.out');
  const r = spawnSync(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', join(HERE, 'case.mjs'), t, c, String(n)],
    { encoding: 'utf8' },
  );
  const m = r.status === 0 && existsSync(out) ? /^summary: (\d+)/m.exec(readFileSync(out, 'utf8')) : null;
  if (m === null) throw new Error(`bench:ab: ${c} (${n} ops) failed in ${t}:\n${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

try {
  console.log(`instructions per op (callgrind), A = ${a}, B = ${b}`);
  console.log(`${'case'.padEnd(20)}${'A'.padStart(14)}${'B'.padStart(14)}${'B/A'.padStart(8)}`);
  for (const c of cases) {
    const [n1, n2] = CASES[c].ops;
    process.stderr.write(`bench:ab: ${c}: 4 callgrind runs...\n`);
    const per = (t) => (instructions(t, c, n2) - instructions(t, c, n1)) / (n2 - n1);
    const ia = per(a),
      ib = per(b);
    console.log(`${c.padEnd(20)}${ia.toFixed(0).padStart(14)}${ib.toFixed(0).padStart(14)}${(ib / ia).toFixed(3).padStart(8)}`);
  }
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
