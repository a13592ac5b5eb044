// Builds the CLI once for the suite and makes sure a headless chromium exists (fresh CI machines
// have none: as root, install Debian's `chromium` package, as docs/toolchain G9 prescribes).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = '/usr/bin/chromium';

export default function setup(): void {
  const require = createRequire(import.meta.url);
  const tsupPkg = require.resolve('tsup/package.json');
  const bin = join(dirname(tsupPkg), (require(tsupPkg) as { bin: Record<string, string> }).bin.tsup!);
  const b = spawnSync(process.execPath, [bin, '--silent'], { cwd: PKG, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`tsup build failed:\n${b.stdout}\n${b.stderr}`);

  if (!existsSync(CHROMIUM) && typeof process.getuid === 'function' && process.getuid() === 0) {
    const r = spawnSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends chromium'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`installing chromium failed (exit ${r.status})`);
  }
}
