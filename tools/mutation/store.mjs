// The campaign's results kept in git: a sharded run takes longer than one working session, and
// reports/ is not committed, so each finished shard's incremental file is also stored gzipped in
// <package>/mutation-results/ (committed). A run restores a missing shard file from there before
// Stryker reads it, so a fresh clone resumes the campaign instead of starting it again.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

export const STORE_DIR = 'mutation-results';

const storedPath = (dir, rel) => join(dir, STORE_DIR, `${basename(rel)}.gz`);

/** Writes reports/<rel> from its stored copy when only the stored copy exists; true when the file is there afterwards. */
export function restore(dir, rel) {
  const p = join(dir, rel);
  if (existsSync(p)) return true;
  const s = storedPath(dir, rel);
  if (!existsSync(s)) return false;
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, gunzipSync(readFileSync(s)));
  return true;
}

/** Stores reports/<rel> (after a finished run); a no-op when Stryker wrote nothing. */
export function save(dir, rel) {
  const p = join(dir, rel);
  if (!existsSync(p)) return;
  mkdirSync(join(dir, STORE_DIR), { recursive: true });
  // mtime 0 in the gzip header: the same results give the same bytes, so git sees no change
  writeFileSync(storedPath(dir, rel), gzipSync(readFileSync(p), { level: 9 }));
}
