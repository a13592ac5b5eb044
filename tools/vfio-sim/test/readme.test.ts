// README output blocks that are command transcripts: the Errors section and replay's mismatch
// report are run here and must match what the README shows (test/demo.test.ts does the demos).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PKG, cli } from './helpers.js';

const md = readFileSync(join(PKG, 'README.md'), 'utf8');

/** The ```text blocks between two headings. */
function blocks(from: string, to: string): string[] {
  const part = md.slice(md.indexOf(from), md.indexOf(to, md.indexOf(from)));
  return [...part.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** `$ vfio-sim args` lines and the output lines under each. */
function transcript(block: string): [string[], string][] {
  const out: [string[], string][] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('$ vfio-sim'))
      out.push([
        line
          .slice('$ vfio-sim'.length)
          .trim()
          .split(/\s+/)
          .filter((x) => x !== ''),
        '',
      ]);
    else if (line !== '') out[out.length - 1]![1] += `${line}\n`;
  }
  return out;
}

describe('readme', () => {
  const errors = blocks('### Errors', '## Bug demos');

  it('test_readme_errors_block', async () => {
    const runs = transcript(errors[0]!);
    expect(runs.length).toBe(11);
    // the README's commands run from the repository root
    const root = join(PKG, '..', '..');
    for (const [args, want] of runs) expect(await cli(args, root), args.join(' ')).toEqual({ code: 2, stdout: '', stderr: want });
  });

  it('test_readme_write_fails_block', async (ctx) => {
    if (!existsSync('/dev/full')) ctx.skip();
    const [[args, want]] = transcript(errors[1]!) as [[string[], string]];
    expect(await cli(args)).toEqual({ code: 1, stdout: '', stderr: want });
  });

  it('test_readme_replay_mismatch_block', async () => {
    const [block] = blocks('## Replay format', '## Trace');
    const lines = block!.split('\n');
    // the record the section shows, made as its caption says, then the edit the block shows
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-readme-'));
    const rec = await cli(
      [
        'run',
        '--guest',
        '4G',
        '--workload',
        'boot+churn',
        '--churn-ops',
        '3',
        '--churn-live',
        '2',
        '--dma-bursts',
        '2',
        '--record',
        'small.jsonl',
      ],
      dir,
    );
    expect(rec.code).toBe(0);
    expect(lines[0]).toBe('$ sed \'9s/"ret":0/"ret":-22/\' small.jsonl > edited.jsonl');
    execFileSync('sh', ['-c', lines[0]!.slice(2)], { cwd: dir });
    expect(lines[1]).toBe('$ vfio-sim replay edited.jsonl');
    expect(lines[2]).toBe('...');
    const ran = await cli(['replay', 'edited.jsonl'], dir);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe('');
    expect(ran.stdout.endsWith(lines.slice(3).join('\n'))).toBe(true);
  });
});

describe('readme output blocks', () => {
  it('test_every_marked_block_is_a_real_run', () => {
    // `<!-- output: ... -->` and `<!-- transcript -->` blocks of both READMEs, rerun (pnpm docs:outputs --check)
    const r = spawnSync(process.execPath, [join(PKG, 'scripts', 'readme-outputs.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stdout.trim().split('\n').at(-1)).toBe('docs:outputs: 0 block(s) differ');
    expect(r.status).toBe(0);
  }, 120_000);
});
