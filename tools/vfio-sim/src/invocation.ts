// How the user started this CLI, so that every command it prints for them to type (the "What to
// try next" hints, --help usage and examples, error suggestions) is one that works where they are:
// `pnpm vfio-sim ...` in the repository, `vfio-sim ...` for an installed bin, `node path/cli.js ...`
// for the built file run directly. README "Which command the hints print" documents the rules.

import { basename, isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Environment variable naming the command that runs the CLI; the repository's root scripts set it to `pnpm vfio-sim`. */
const INVOCATION_ENV = 'VFIO_SIM_INVOCATION';

/** `p` as one shell word: unchanged when it holds only safe characters, else in single quotes. */
export function shellWord(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** `file` as the user can type it from `cwd`: relative when it lies below cwd, else absolute. */
export function pathFrom(cwd: string, file: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * The command (without arguments) that runs this CLI for the user, decided in this order:
 * 1. `$VFIO_SIM_INVOCATION` when set and not empty: the root scripts `pnpm vfio-sim` and `pnpm start`
 *    set it to `pnpm vfio-sim` (a wrapper of your own can set its own words);
 * 2. `vfio-sim` when the script was started through a bin named `vfio-sim` (npm's links in
 *    node_modules/.bin and the global bin directory, npx) or lies inside a node_modules directory
 *    (pnpm's and Windows' bin shims run `node .../node_modules/@x/vfio-sim/dist/cli.js`);
 * 3. otherwise `node <script>`, the script's path relative to the working directory when it lies below
 *    it, else absolute: `node tools/vfio-sim/dist/cli.js` from the repository root.
 * `script` is process.argv[1] as Node received it (a bin link keeps its own name there).
 */
export function invocation(
  env: NodeJS.ProcessEnv = process.env,
  script: string | undefined = process.argv[1],
  cwd: string = process.cwd(),
): string {
  const set = env[INVOCATION_ENV]?.trim();
  if (set !== undefined && set !== '') return set;
  if (script === undefined || script === '') return 'vfio-sim';
  if (/^vfio-sim(\.c?js|\.cmd|\.ps1)?$/i.test(basename(script))) return 'vfio-sim';
  if (script.split(/[\\/]/).includes('node_modules')) return 'vfio-sim';
  return `node ${shellWord(pathFrom(cwd, script))}`;
}

/** `<invocation> args`: a command line for the user to type. */
export function command(args: string): string {
  return `${invocation()} ${args}`;
}

/** A scenario file shipped in the package's examples/ directory, as a path the user can type from here. */
export function examplePath(name: string): string {
  // dist/*.js and src/*.ts both sit one level below the package root
  return shellWord(pathFrom(process.cwd(), fileURLToPath(new URL(`../examples/${name}`, import.meta.url))));
}
