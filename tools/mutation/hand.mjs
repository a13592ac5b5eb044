// pnpm test:mutation:hand: replays the mutants the docs say were "applied by hand", so that the
// claim "killed by test X" or "equivalent because Y" can be checked again after any change.
//   pnpm test:mutation:hand --pkg iommu-core                    every file in <package>/mutation-hand/
//   pnpm test:mutation:hand --pkg iommu-core mutation-hand/map.json   one of them
// A mutant file: { "file": "src/x.ts", "tests": ["test/y.test.ts"] (optional: the whole suite),
//   "mutants": [{ "old": "text found once in the file", "new": "its replacement",
//                 "expect": "killed" | "equivalent", "why": "for an equivalent: the reason" }] }
// Each mutant runs in a copy of the package (under .stryker-tmp/, as Stryker's sandboxes), with the
// Stryker test sizes (vitest.stryker.config.ts), one at a time. A result other than the expected
// one fails the run: a mutant listed as equivalent that a test now kills is a stale document too.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root, wanted } from './packages.mjs';

const TIMEOUT_MS = Number(process.env.HAND_TIMEOUT_MS ?? 180_000);
const SKIP = new Set(['node_modules', '.stryker-tmp', 'reports', 'mutation-results', '.turbo', 'test-artifacts']);

function usage(msg) {
  console.error(`test:mutation:hand: ${msg}`);
  process.exit(2);
}

/** The mutant files named on the command line (relative to the package), or all of mutation-hand/. */
function mutantFiles(dir, named) {
  if (named.length > 0) return named.map((f) => join(dir, f));
  const d = join(dir, 'mutation-hand');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(d, f));
}

/** Parses and checks one mutant file against the source it mutates; a usage error names what is wrong. */
function load(dir, path) {
  const where = relative(root, path);
  let spec;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    usage(`${where}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (typeof spec.file !== 'string' || !Array.isArray(spec.mutants)) usage(`${where}: wants "file" and "mutants"`);
  const srcPath = join(dir, spec.file);
  if (!existsSync(srcPath)) usage(`${where}: ${spec.file} is not in ${relative(root, dir)}`);
  const src = readFileSync(srcPath, 'utf8');
  spec.mutants.forEach((m, i) => {
    const at = `${where}: mutant ${i + 1}`;
    if (typeof m.old !== 'string' || typeof m.new !== 'string') usage(`${at}: wants "old" and "new" strings`);
    if (m.expect !== 'killed' && m.expect !== 'equivalent') usage(`${at}: "expect" is "killed" or "equivalent"`);
    if (m.expect === 'equivalent' && typeof m.why !== 'string') usage(`${at}: an equivalent mutant says why`);
    const n = src.split(m.old).length - 1;
    if (n !== 1) usage(`${at}: "old" occurs ${n} times in ${spec.file} (it must occur once): ${JSON.stringify(m.old)}`);
  });
  return { where, spec, src };
}

// stopped by a signal: the running test process group and the copy go too
let running = null;
const boxes = [];
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (running !== null) {
      try {
        process.kill(-running, 'SIGKILL');
      } catch {}
    }
    for (const b of boxes) rmSync(b, { recursive: true, force: true });
    process.exit(130);
  });
}

/** A copy of the package two levels down (relative imports of the package's own files still work). */
function sandbox(dir) {
  const box = join(dir, '.stryker-tmp', `hand-${process.pid}`);
  rmSync(box, { recursive: true, force: true });
  boxes.push(box);
  mkdirSync(box, { recursive: true });
  for (const e of readdirSync(dir)) if (!SKIP.has(e)) cpSync(join(dir, e), join(box, e), { recursive: true });
  symlinkSync(join(dir, 'node_modules'), join(box, 'node_modules'), 'dir');
  // two levels deeper than the package: a tsconfig extending a file above it needs two more '../' (as Stryker does)
  const tsconfig = join(box, 'tsconfig.json');
  if (existsSync(tsconfig)) writeFileSync(tsconfig, readFileSync(tsconfig, 'utf8').replace(/("extends":\s*")(\.\.\/)/, '$1../../$2'));
  return box;
}

/** Runs the tests in box: 'killed', 'survived' or 'timeout' (its own process group, killed whole). */
function runTests(box, tests) {
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [vitest, 'run', '--config', 'vitest.stryker.config.ts', ...tests], {
      cwd: box,
      detached: true,
      stdio: 'ignore',
    });
    running = p.pid;
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
      resolve('timeout');
    }, TIMEOUT_MS);
    p.on('exit', (code) => {
      running = null;
      clearTimeout(timer);
      resolve(code === 0 ? 'survived' : 'killed');
    });
  });
}

const argv = process.argv.slice(2);
const named = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--pkg') i++;
  else if (argv[i].startsWith('-')) usage(`unknown option '${argv[i]}'`);
  else named.push(argv[i]);
}
const dirs = wanted(process.argv);
if (named.length > 0 && dirs.length !== 1) usage('a mutant file belongs to one package: add --pkg');
let wrong = 0,
  total = 0,
  broken = 0;
for (const d of dirs) {
  const dir = join(root, d);
  const files = mutantFiles(dir, named).map((f) => load(dir, f));
  if (files.length === 0) continue;
  const box = sandbox(dir);
  try {
    // the unmutated copy must pass, or every mutant would count as killed
    const all = files.some((f) => f.spec.tests === undefined) ? [] : [...new Set(files.flatMap((f) => f.spec.tests))];
    const base = await runTests(box, all);
    if (base !== 'survived') {
      console.error(`test:mutation:hand: ${d}: the tests fail (${base}) on the unmutated copy in ${relative(root, box)}; fix that first`);
      broken++;
      continue;
    }
    for (const { where, spec, src } of files) {
      console.log(`\n${where}: ${spec.mutants.length} mutants of ${d}/${spec.file}`);
      const target = join(box, spec.file);
      for (const [i, m] of spec.mutants.entries()) {
        writeFileSync(
          target,
          src.replace(m.old, () => m.new),
        );
        const got = await runTests(box, spec.tests ?? []);
        // a timeout counts as detected, as Stryker counts it
        const ok = m.expect === 'killed' ? got !== 'survived' : got === 'survived';
        total++;
        if (!ok) wrong++;
        console.log(
          `  ${ok ? 'ok  ' : 'FAIL'} ${i + 1}: ${got}${ok ? '' : ` (expected ${m.expect})`}: ${JSON.stringify(m.old)} -> ${JSON.stringify(m.new)}`,
        );
      }
      writeFileSync(target, src);
    }
  } finally {
    rmSync(box, { recursive: true, force: true });
  }
}
console.log(`\ntest:mutation:hand: ${total} mutants, ${total - wrong} as documented, ${wrong} not`);
process.exitCode = wrong === 0 && broken === 0 ? 0 : 1;
