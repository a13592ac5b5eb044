// Runs the built CLI as a user would and parses what it prints.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../src/cli.js';
import type { CommandResult } from '../src/engine/result.js';

export const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(PKG, 'dist', 'cli.js');

/** A replay header's full machine, as today's `run --record` writes it (8 GiB host, AMD, v4.17). */
export const REPLAY_MACHINE = {
  hostMemory: '8589934592',
  seed: 1,
  backing: 'thp',
  cost: {},
  driver: 'amd',
  profile: 'v4.17',
  iotlbEntries: 1024,
  groups: 1,
  devices: 1,
  memlockLimit: '5368709120',
  capIpcLock: false,
  container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 },
};

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node dist/cli.js ...args` with stdin/stdout/stderr as pipes (so not a TTY). The commands it prints
 * read as for an installed bin (`vfio-sim ...`, as the README shows them) unless `env` says otherwise:
 * VFIO_SIM_INVOCATION is set to 'vfio-sim' (invocation.test.ts covers the other cases).
 */
export function cli(args: readonly string[], cwd = PKG, env: NodeJS.ProcessEnv = { VFIO_SIM_INVOCATION: 'vfio-sim' }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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

/** The CLI's main() in this process (no node start-up per case), with stdout/stderr captured. */
export async function inProcess(args: readonly string[]): Promise<Ran> {
  let stdout = '',
    stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    stdout += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  });
  const saved = process.exitCode;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = saved;
  }
}

/** Runs with --json and parses; fails loudly on a non-zero exit. */
export async function cliJson(args: readonly string[]): Promise<{ res: CommandResult; raw: string; ran: Ran }> {
  return parsedJson(await cli([...args, '--json']));
}

/** cliJson() with main() in this process (inProcess). */
export async function inProcessJson(args: readonly string[]): Promise<{ res: CommandResult; raw: string; ran: Ran }> {
  return parsedJson(await inProcess([...args, '--json']));
}

function parsedJson(ran: Ran): { res: CommandResult; raw: string; ran: Ran } {
  if (ran.code !== 0) throw new Error(`exit ${ran.code}: ${ran.stderr}`);
  return { res: JSON.parse(ran.stdout) as CommandResult, raw: ran.stdout, ran };
}

/** VFIO_IOMMU_TLB_SYNC_MAX rule: syncs the fast path needs for a regions-per-call histogram. */
export function fastSyncs(hist: readonly (readonly [number, number])[], tlbSyncMax: number): number {
  return hist.reduce((a, [regions, calls]) => a + Math.ceil(regions / tlbSyncMax) * calls, 0);
}
