// The commands the CLI prints for the user to type name the CLI the way it was started (invocation.ts):
// `pnpm vfio-sim` from the root scripts, `vfio-sim` as an installed bin, `node <path>` for the built
// file; and --version is package.json's version.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { invocation, pathFrom, shellWord } from '../src/invocation.js';
import { CLI, PKG, cli, type Ran } from './helpers.js';

const ROOT = join(PKG, '..', '..');
const NO_ENV = { VFIO_SIM_INVOCATION: '' };

/** Runs `file ...args` directly (through its shebang, as a shell runs a bin). */
function exec(file: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, VFIO_SIM_INVOCATION: '' };
    const p = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('invocation', () => {
  it('test_invocation_rules', () => {
    const repo = '/home/u/vfio-iommu-model';
    const built = `${repo}/tools/vfio-sim/dist/cli.js`;
    // 1. the root scripts' variable wins, whatever the script path
    expect(invocation({ VFIO_SIM_INVOCATION: 'pnpm vfio-sim' }, built, repo)).toBe('pnpm vfio-sim');
    expect(invocation({ VFIO_SIM_INVOCATION: '  ' }, built, repo)).toBe('node tools/vfio-sim/dist/cli.js');
    // 2. an installed bin: npm's link (local, global, npx cache) or a shim running the installed file
    expect(invocation({}, '/proj/node_modules/.bin/vfio-sim', '/proj')).toBe('vfio-sim');
    expect(invocation({}, '/usr/local/bin/vfio-sim', '/tmp')).toBe('vfio-sim');
    expect(invocation({}, '/root/.npm/_npx/1a2b/node_modules/.bin/vfio-sim', '/tmp')).toBe('vfio-sim');
    expect(invocation({}, '/proj/node_modules/.pnpm/@x+vfio-sim@0.1.0/node_modules/@x/vfio-sim/dist/cli.js', '/proj')).toBe('vfio-sim');
    expect(invocation({}, 'C:\\proj\\node_modules\\@x\\vfio-sim\\dist\\cli.js', 'C:\\proj')).toBe('vfio-sim');
    // 3. the built file run with node: the path as typed from here
    expect(invocation({}, built, repo)).toBe('node tools/vfio-sim/dist/cli.js');
    expect(invocation({}, built, `${repo}/tools/vfio-sim`)).toBe('node dist/cli.js');
    expect(invocation({}, built, '/tmp')).toBe(`node ${built}`);
    expect(invocation({}, '/home/u/my tools/dist/cli.js', '/tmp')).toBe(`node '/home/u/my tools/dist/cli.js'`);
    expect(invocation({}, undefined, repo)).toBe('vfio-sim');
  });

  it('test_shell_word_and_path_from', () => {
    expect(shellWord('tools/vfio-sim/examples/churn.json')).toBe('tools/vfio-sim/examples/churn.json');
    expect(shellWord("it's here")).toBe(`'it'\\''s here'`);
    expect(pathFrom('/a', '/a/b/c')).toBe('b/c');
    expect(pathFrom('/a/x', '/a/b/c')).toBe('/a/b/c');
    expect(pathFrom('/a/b/c', '/a/b/c')).toBe('/a/b/c');
  });

  it('test_hints_as_node_path', async () => {
    // `node tools/vfio-sim/dist/cli.js` from the repository root (README "Other commands")
    const r = await cli(['compare', '--guest', '1G', '--dma', 'none', '--firmware', 'none', '--serial'], ROOT, NO_ENV);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(commits: node tools/vfio-sim/dist/cli.js timeline v4.16 mainline)');
    expect(r.stdout).toContain('What to try next:\n  node tools/vfio-sim/dist/cli.js sweep --tlb-sync-max 1,8,64,512,4096');
    expect(r.stdout).toContain('\n  node tools/vfio-sim/dist/cli.js --help ');
    expect(r.stdout).not.toMatch(/^ {2}vfio-sim /m);
    const h = await cli(['run', '--help'], PKG, NO_ENV);
    expect(h.stdout.startsWith('Usage: node dist/cli.js run [options]\n')).toBe(true);
    expect(h.stdout).toContain('  $ node dist/cli.js run --scenario examples/churn.json --guest 8G\n');
  });

  it('test_hints_as_root_script', async () => {
    // what `pnpm vfio-sim` and `pnpm start` set (root package.json)
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const s of ['vfio-sim', 'start'])
      expect(pkg.scripts[s]).toContain("VFIO_SIM_INVOCATION='pnpm vfio-sim' node tools/vfio-sim/dist/cli.js");
    const r = await cli(['compare', '--guest', '1G', '--dma', 'none', '--firmware', 'none', '--serial'], ROOT, {
      VFIO_SIM_INVOCATION: 'pnpm vfio-sim',
    });
    expect(r.stdout).toContain('What to try next:\n  pnpm vfio-sim sweep --tlb-sync-max 1,8,64,512,4096');
    expect(r.stdout).toContain('(commits: pnpm vfio-sim timeline v4.16 mainline)');
    const e = await cli(['report', '--costs', '--cost', 'amd.cmd.sumbit=3'], ROOT, { VFIO_SIM_INVOCATION: 'pnpm vfio-sim' });
    expect(e).toEqual({
      code: 2,
      stdout: '',
      stderr: "vfio-sim: --cost: unknown event 'amd.cmd.sumbit' (see `pnpm vfio-sim report --costs --driver amd`)\n",
    });
    const h = await cli(['--help'], ROOT, { VFIO_SIM_INVOCATION: 'pnpm vfio-sim' });
    expect(h.stdout.startsWith('Usage: pnpm vfio-sim [options] [command]\n')).toBe(true);
    expect(h.stdout).toContain('  $ pnpm vfio-sim run --record boot.jsonl && pnpm vfio-sim replay boot.jsonl --profile mainline\n');
  });

  it('test_hints_as_installed_bin', async () => {
    // npm links node_modules/.bin/vfio-sim to the package's dist/cli.js; the shell runs the link
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-bin-'));
    try {
      mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
      const bin = join(dir, 'node_modules', '.bin', 'vfio-sim');
      symlinkSync(CLI, bin);
      const r = await exec(bin, ['timeline', 'v4.16', 'v4.17'], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('\nmore: vfio-sim timeline v4.16 v4.17 --json   #');
      const rec = await exec(bin, ['run', '--guest', '1G', '--dma', 'none', '--record', 'r.jsonl'], dir);
      expect(rec.code).toBe(0);
      expect(rec.stdout).toContain('\nrecord: r.jsonl (replay with: vfio-sim replay r.jsonl)\n');
      const h = await exec(bin, ['compare', '--help'], dir);
      expect(h.stdout.startsWith('Usage: vfio-sim compare [options] [scenario-files...]\n')).toBe(true);
      // the shipped example, as a path that works from here
      expect(h.stdout).toContain(`  $ vfio-sim compare ${join(PKG, 'examples', 'dgpu-256g.json')} --guest 64G`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('version', () => {
  it('test_version_is_package_json', async () => {
    const { version } = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await cli(['-V'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
