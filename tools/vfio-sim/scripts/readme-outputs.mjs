// pnpm docs:outputs [--check]: the README output blocks are real runs. A block preceded by
// `<!-- output: COMMAND -->` holds what COMMAND prints (stdout, then stderr), where COMMAND is
// `pnpm start`, `pnpm vfio-sim ARGS`, `vfio-sim ARGS`, or just ARGS (read as `vfio-sim ARGS`); a block
// preceded by `<!-- transcript -->` holds `$ vfio-sim ARGS` lines, each followed by what it prints.
// Commands run from the repository root with the built CLI, not on a terminal (no progress output),
// with VFIO_SIM_INVOCATION set as the command's own context would set it: the commands the CLI prints
// read `pnpm vfio-sim ...` under `pnpm start` / `pnpm vfio-sim` (the root scripts set it so) and
// `vfio-sim ...` for the installed bin. --check writes nothing and exits 1 naming every block that differs.
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

/** A marker's command as [invocation, args]. */
function parse(command) {
  if (command === 'pnpm start') return ['pnpm vfio-sim', []];
  for (const inv of ['pnpm vfio-sim', 'vfio-sim']) {
    if (command === inv || command.startsWith(`${inv} `)) return [inv, words(command.slice(inv.length))];
  }
  return ['vfio-sim', words(command)];
}

function run(args, invocation = 'vfio-sim') {
  const env = { ...process.env, NO_COLOR: '1', VFIO_SIM_INVOCATION: invocation };
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: 'utf8', env, maxBuffer: 1 << 28 });
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
        lines.push(
          l,
          ...run(words(l.slice('$ vfio-sim'.length)))
            .trimEnd()
            .split('\n'),
        );
      }
      out = `${lines.join('\n')}\n`;
    } else {
      const [invocation, argv] = parse(args);
      out = run(argv, invocation);
    }
    if (out === body) return whole;
    differ++;
    console.log(
      `${check ? 'differs' : 'updated'}: ${f}: ${kind === 'transcript' ? `transcript starting ${body.split('\n')[0]}` : `output: ${args}`}`,
    );
    return whole.replace(body, () => out);
  });
  if (!check && next !== md) writeFileSync(path, next);
}
console.log(`docs:outputs: ${differ} block(s) ${check ? 'differ' : 'updated'}`);
process.exitCode = check && differ > 0 ? 1 : 0;
