// pnpm docs:outputs [--check]: the README output blocks are real runs. A block preceded by
// `<!-- output: ARGS -->` holds what `vfio-sim ARGS` prints (stdout, then stderr); a block preceded
// by `<!-- transcript -->` holds `$ vfio-sim ARGS` lines, each followed by what it prints. Commands
// run from the repository root with the built CLI, not on a terminal (no progress output). --check
// writes nothing and exits 1 naming every block that differs.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = join(root, 'tools', 'vfio-sim', 'dist', 'cli.js');
const FILES = ['README.md', 'tools/vfio-sim/README.md'];
const check = process.argv.includes('--check');

/** Splits a command line into words (single quotes group, as the README writes them). */
function words(line) {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

function run(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28 });
  return `${r.stdout}${r.stderr}`;
}

let differ = 0;
for (const f of FILES) {
  const path = join(root, f);
  const md = readFileSync(path, 'utf8');
  const next = md.replace(/<!-- (output: ([^\n]*?)|transcript) -->\n```text\n([\s\S]*?)```/g, (whole, kind, args, body) => {
    let out;
    if (kind === 'transcript') {
      const lines = [];
      for (const l of body.split('\n')) {
        if (!l.startsWith('$ vfio-sim')) continue;
        lines.push(l, ...run(words(l.slice('$ vfio-sim'.length))).trimEnd().split('\n'));
      }
      out = `${lines.join('\n')}\n`;
    } else {
      out = run(words(args === 'pnpm start' ? '' : args));
    }
    if (out === body) return whole;
    differ++;
    console.log(`${check ? 'differs' : 'updated'}: ${f}: ${kind === 'transcript' ? `transcript starting ${body.split('\n')[0]}` : `vfio-sim ${args}`}`);
    return whole.replace(body, () => out);
  });
  if (!check && next !== md) writeFileSync(path, next);
}
console.log(`docs:outputs: ${differ} block(s) ${check ? 'differ' : 'updated'}`);
process.exitCode = check && differ > 0 ? 1 : 0;
