// Output files (--trace, --html, --record, report --html): checked before any work starts, so a
// typo in a path costs nothing (usage error, exit 2); a write that still fails at the end (disk
// full, ...) is one line and exit 1, never a stack trace.

import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OutputError, UsageError } from '../errors.js';

const WHY: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'I/O error',
};

/** `CODE (what it means)` for a failed fs call. */
export function reason(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  if (typeof x.code !== 'string') return String((e as Error).message ?? e);
  return WHY[x.code] !== undefined ? `${x.code} (${WHY[x.code]})` : `${x.code} (${x.message})`;
}

/** `ENOSPC (no space left on device)` for an errno name kept from a failed write. */
export function codeReason(code: string): string {
  return WHY[code] !== undefined ? `${code} (${WHY[code]})` : code;
}

/**
 * Checks that `file` can be written: its directory exists and is a writable directory, and the
 * file itself, if it exists, is not a directory and is writable. Throws UsageError naming `flag`.
 */
function checkWritable(flag: string, file: string): void {
  const fail = (why: string): never => {
    throw new UsageError(flag, `cannot write ${file}: ${why}`);
  };
  // resolve('') is the working directory, which stat() finds: an empty path must be refused here
  if (file === '') throw new UsageError(flag, 'needs a file name (got an empty string)');
  let exists = true;
  try {
    if (statSync(file).isDirectory()) fail('EISDIR (is a directory)');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') exists = false;
    else if (code === 'ENOTDIR') fail(`ENOTDIR (${dirname(file)} is not a directory)`);
    else fail(reason(e));
  }
  if (exists) {
    try {
      accessSync(file, constants.W_OK);
    } catch (e) {
      fail(reason(e));
    }
    return;
  }
  const dir = dirname(resolve(file));
  try {
    if (!statSync(dir).isDirectory()) fail(`ENOTDIR (${dirname(file)} is not a directory)`);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    fail(reason(e));
  }
}

/** Checks every given output path (flag -> path; undefined = not asked for) and that no two name the same file. */
export function checkOutputs(outputs: Readonly<Record<string, string | undefined>>): void {
  const seen = new Map<string, string>();
  for (const [flag, file] of Object.entries(outputs)) {
    if (file === undefined) continue;
    checkWritable(flag, file);
    const abs = resolve(file);
    const other = seen.get(abs);
    if (other !== undefined) throw new UsageError(flag, `${file} is also the ${other} file; give each output its own file`);
    seen.set(abs, flag);
  }
}

/** Writes an output file; a failure (the checks passed, so: disk full, I/O error, ...) is an OutputError. */
export function writeOutput(flag: string, file: string, data: string): void {
  try {
    writeFileSync(file, data);
  } catch (e) {
    throw new OutputError(flag, `cannot write ${file}: ${reason(e)}`);
  }
}
