#!/usr/bin/env node
// pnpm release:rehearse: the release, rehearsed against a real registry without touching this repo.
// In a scratch copy of the work tree (what git would commit: tracked and untracked, not ignored) it
// runs `changeset version`, builds, and publishes every package to a local Verdaccio; then, in an
// empty project whose .npmrc sends the @x scope to that registry, it installs @x/vfio-type1 alone by
// name (its @x/iommu-core must be the version just released), installs @x/vfio-sim and runs
// `vfio-sim --version`, and reads each installed package's CHANGELOG.md: its version heading and
// every pending changeset that names it, under the right bump. See README.md.
// Plain Node ESM. Exit 0 only if every step passed; the temp dir and Verdaccio are gone either way.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PNPM_VERSION = '10.34.9';
const TOKEN = 'release-rehearsal-fake-token';
const t0 = performance.now();
const keep = process.env.REHEARSAL_KEEP === '1';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'release-rehearsal-'));
const SCRATCH = path.join(TMP, 'repo');
let verdaccio = null; // the child process, killed by its pid on exit
const cleanup = () => {
  if (verdaccio !== null && verdaccio.exitCode === null) {
    try {
      process.kill(verdaccio.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  if (!keep) fs.rmSync(TMP, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

class StepError extends Error {
  constructor(message, output = '') {
    super(message);
    this.output = output;
  }
}

// Environment of every child: nothing from the pnpm/npm script that runs us (npm_config_* would point
// npm and pnpm at this workspace), a private npm cache, no telemetry, no colour.
const KEEP_NPM = /^npm_config_(registry|cafile|ca|proxy|https_proxy|http_proxy|noproxy|strict_ssl)$/i;
const ENV = {};
for (const [k, v] of Object.entries(process.env)) {
  if ((/^npm_/i.test(k) && !KEEP_NPM.test(k)) || /^PNPM_/.test(k) || k === 'INIT_CWD' || k === 'NODE_PATH') continue;
  ENV[k] = v;
}
Object.assign(ENV, {
  npm_config_cache: path.join(TMP, 'npm-cache'),
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  npm_config_yes: 'true',
  npm_config_loglevel: 'warn',
  TURBO_TELEMETRY_DISABLED: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
  VFIO_SIM_INVOCATION: '',
});

function run(cmd, args, { cwd, env = ENV, timeout = 180_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    const line = [cmd, ...args].join(' ');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new StepError(`cannot run ${line}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new StepError(`\`${line}\` (in ${cwd}) exited with ${signal ?? code}`, out));
    });
  });
}

// pnpm: the one running this script (`pnpm test`, `pnpm release:rehearse`), else the pinned one through npx.
function pnpm() {
  const exec = process.env.npm_execpath;
  if (exec && /pnpm/i.test(path.basename(exec))) {
    return /\.[cm]?js$/.test(exec) ? [process.env.npm_node_execpath || process.execPath, [exec]] : [exec, []];
  }
  return ['npx', ['-y', `pnpm@${PNPM_VERSION}`]];
}
const [PNPM, PNPM_PRE] = pnpm();
// turbo looks pnpm up on PATH: a shim for the pnpm above, first on the children's PATH
fs.mkdirSync(path.join(TMP, 'bin'));
fs.writeFileSync(path.join(TMP, 'bin', 'pnpm'), `#!/bin/sh\nexec ${[PNPM, ...PNPM_PRE].map((a) => `'${a}'`).join(' ')} "$@"\n`, {
  mode: 0o755,
});
ENV.PATH = `${path.join(TMP, 'bin')}${path.delimiter}${ENV.PATH ?? ''}`;

const steps = [];
async function step(name, fn) {
  const t = performance.now();
  try {
    const note = (await fn()) ?? '';
    steps.push({ name, ok: true, note, ms: performance.now() - t });
  } catch (e) {
    steps.push({ name, ok: false, err: e instanceof StepError ? e : new StepError(e?.stack ?? String(e)), ms: performance.now() - t });
    throw e;
  }
}

const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

/** The pending changesets: [{ file, releases: { name: bump }, summary }], the empty ones included. */
function readChangesets(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort()
    .map((f) => {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const m = /^---\r?\n([\s\S]*?)^---\r?\n([\s\S]*)$/m.exec(text);
      if (!m) throw new StepError(`.changeset/${f} has no front matter`);
      const releases = {};
      for (const l of m[1].split('\n')) {
        const r = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/.exec(l);
        if (r) releases[r[1]] = r[2];
      }
      return { file: f, releases, summary: m[2].trim() };
    });
}

/** A port nothing listens on, from the kernel. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
let packages = []; // [{ dir, name, before, version }] the publishable packages of the scratch copy
let changesets = [];
let registry = '';
const CONSUMER = path.join(TMP, 'consumer');

async function main() {
  await step('scratch copy', async () => {
    // the work tree as git sees it: tracked files (with their edits) and untracked ones .gitignore keeps
    // --no-optional-locks: git status would otherwise refresh (write) this repo's index
    const list = (await run('git', ['--no-optional-locks', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT }))
      .split('\0')
      .filter(Boolean);
    let n = 0;
    for (const rel of [...new Set(list)]) {
      const from = path.join(ROOT, rel);
      const st = fs.lstatSync(from, { throwIfNoEntry: false });
      if (!st || st.isDirectory()) continue; // deleted in the work tree, or a submodule
      const to = path.join(SCRATCH, rel);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
      else {
        fs.copyFileSync(from, to);
        fs.chmodSync(to, st.mode & 0o777);
      }
      n++;
    }
    const dirty = (await run('git', ['--no-optional-locks', 'status', '--porcelain'], { cwd: ROOT })).trim() !== '';
    return `${n} files into ${path.relative(os.tmpdir(), SCRATCH)}${dirty ? ' (the work tree has uncommitted changes: they are in)' : ''}`;
  });

  await step('install', async () => {
    // the store already holds every package of the lockfile (this repo was installed from it): no network
    try {
      await run(PNPM, [...PNPM_PRE, 'install', '--frozen-lockfile', '--offline', '--reporter=silent'], { cwd: SCRATCH });
    } catch {
      await run(PNPM, [...PNPM_PRE, 'install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent'], { cwd: SCRATCH });
      return 'pnpm install --frozen-lockfile in the copy (the store lacked packages: fetched)';
    }
    return 'pnpm install --frozen-lockfile --offline in the copy';
  });

  await step('changeset version', async () => {
    changesets = readChangesets(path.join(SCRATCH, '.changeset'));
    const ws = ['packages', 'tools']
      .flatMap((d) => fs.readdirSync(path.join(SCRATCH, d)).map((x) => path.join(d, x)))
      .filter((d) => fs.existsSync(path.join(SCRATCH, d, 'package.json')));
    const before = new Map(ws.map((d) => [d, readJson(path.join(SCRATCH, d, 'package.json'))]));
    await run(process.execPath, [path.join(SCRATCH, 'node_modules', '@changesets', 'cli', 'bin.js'), 'version'], { cwd: SCRATCH });
    packages = ws
      .map((dir) => ({ dir, pkg: readJson(path.join(SCRATCH, dir, 'package.json')), before: before.get(dir).version }))
      .filter((p) => !p.pkg.private)
      .map((p) => ({ dir: p.dir, name: p.pkg.name, before: p.before, version: p.pkg.version }));
    const unbumped = packages.filter((p) => p.version === p.before);
    if (unbumped.length)
      throw new StepError(`changeset version left ${unbumped.map((p) => `${p.name}@${p.version}`).join(', ')} as they were`);
    const left = fs.readdirSync(path.join(SCRATCH, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
    if (left.length) throw new StepError(`changesets left after versioning: ${left.join(', ')}`);
    return `${changesets.length} changesets -> ${packages.map((p) => `${p.name} ${p.before} -> ${p.version}`).join(', ')}`;
  });

  await step('build', async () => {
    await run(
      path.join(SCRATCH, 'node_modules', '.bin', 'turbo'),
      ['run', 'build', '--output-logs=errors-only', '--cache-dir', path.join(TMP, 'turbo-cache')],
      { cwd: SCRATCH },
    );
    return 'turbo run build in the copy';
  });

  await step('verdaccio', async () => {
    const port = await freePort();
    registry = `http://127.0.0.1:${port}/`;
    const dir = path.join(TMP, 'verdaccio');
    fs.mkdirSync(dir);
    const config = path.join(dir, 'config.yaml');
    // no uplinks: the registry holds only what we publish; anyone may read and publish
    fs.writeFileSync(
      config,
      [
        `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
        'auth:',
        '  htpasswd:',
        `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
        '    max_users: -1',
        'uplinks: {}',
        'packages:',
        "  '**':",
        '    access: $all',
        '    publish: $anonymous',
        '    unpublish: $anonymous',
        'web:',
        '  enable: false',
        'log: { type: stdout, format: pretty, level: warn }',
        '',
      ].join('\n'),
    );
    const bin = path.join(
      path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('verdaccio/package.json')),
      'bin',
      'verdaccio',
    );
    verdaccio = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
      cwd: dir,
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    verdaccio.stdout.on('data', (d) => {
      log += d;
    });
    verdaccio.stderr.on('data', (d) => {
      log += d;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (verdaccio.exitCode !== null) throw new StepError(`verdaccio exited with ${verdaccio.exitCode}`, log);
      try {
        if ((await fetch(`${registry}-/ping`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new StepError('verdaccio did not answer /-/ping within 30 s', log);
      await new Promise((r) => setTimeout(r, 100));
    }
    return `verdaccio ${readJson(path.join(path.dirname(bin), '..', 'package.json')).version} on ${registry} (pid ${verdaccio.pid})`;
  });

  await step('publish', async () => {
    // a fake token: the registry lets anyone publish, the client still wants one
    fs.writeFileSync(path.join(SCRATCH, '.npmrc'), `//127.0.0.1:${new URL(registry).port}/:_authToken=${TOKEN}\n`);
    await run(PNPM, [...PNPM_PRE, 'publish', '-r', '--registry', registry, '--no-git-checks', '--access', 'public', '--reporter=silent'], {
      cwd: SCRATCH,
    });
    const got = [];
    for (const p of packages) {
      const res = await fetch(`${registry}${p.name.replace('/', '%2f')}`);
      const doc = res.ok ? await res.json() : null;
      if (doc?.['dist-tags']?.latest !== p.version)
        throw new StepError(`${p.name}: the registry's latest is ${doc?.['dist-tags']?.latest ?? 'missing'}, want ${p.version}`);
      got.push(`${p.name}@${p.version}`);
    }
    return `pnpm publish -r: ${got.join(', ')}`;
  });

  const byName = new Map(packages.map((p) => [p.name, p]));
  const installed = (name) => readJson(path.join(CONSUMER, 'node_modules', ...name.split('/'), 'package.json'));
  // npm's lockfile leaves `resolved` out for a scoped registry; its integrity must be the rehearsal registry's tarball
  const fromRegistry = async (name) => {
    const lock = readJson(path.join(CONSUMER, 'package-lock.json')).packages?.[`node_modules/${name}`] ?? {};
    const doc = await (await fetch(`${registry}${name.replace('/', '%2f')}`)).json();
    return lock.integrity !== undefined && lock.integrity === doc.versions?.[lock.version]?.dist?.integrity;
  };

  await step('install by name', async () => {
    fs.mkdirSync(CONSUMER);
    // only the @x scope goes to the rehearsal registry; anything else (commander, ...) to the usual one
    fs.writeFileSync(path.join(CONSUMER, '.npmrc'), `@x:registry=${registry}\n`);
    await run('npm', ['init', '-y'], { cwd: CONSUMER });
    await run('npm', ['install', '--no-audit', '--no-fund', '@x/vfio-type1'], { cwd: CONSUMER });
    const problems = [];
    for (const name of ['@x/vfio-type1', '@x/iommu-core']) {
      const want = byName.get(name).version,
        v = installed(name).version;
      if (v !== want) problems.push(`${name} resolved to ${v}, the release is ${want}`);
      if (!(await fromRegistry(name))) problems.push(`${name}@${v}'s integrity is not that of the tarball on ${registry}`);
    }
    if (problems.length) throw new StepError(problems.join('\n'));
    const range = installed('@x/vfio-type1').dependencies['@x/iommu-core'];
    return `npm install @x/vfio-type1 -> @x/vfio-type1@${installed('@x/vfio-type1').version} needs @x/iommu-core ${range}, got ${installed('@x/iommu-core').version} (the release)`;
  });

  await step('cli', async () => {
    await run('npm', ['install', '--no-audit', '--no-fund', '@x/vfio-sim'], { cwd: CONSUMER });
    const want = byName.get('@x/vfio-sim').version;
    const v = (await run(path.join(CONSUMER, 'node_modules', '.bin', 'vfio-sim'), ['--version'], { cwd: CONSUMER })).trim();
    if (v !== want) throw new StepError(`vfio-sim --version printed '${v}', the release is ${want}`);
    return `npm install @x/vfio-sim; vfio-sim --version = ${v}`;
  });

  await step('changelogs', async () => {
    const notes = [];
    for (const p of packages) {
      const file = path.join(CONSUMER, 'node_modules', ...p.name.split('/'), 'CHANGELOG.md');
      if (!fs.existsSync(file)) throw new StepError(`${p.name}: CHANGELOG.md is not in the published package`);
      const text = fs.readFileSync(file, 'utf8');
      if (text !== fs.readFileSync(path.join(SCRATCH, p.dir, 'CHANGELOG.md'), 'utf8'))
        throw new StepError(`${p.name}: the published CHANGELOG.md is not the one changeset version wrote`);
      if (!text.startsWith(`# ${p.name}\n`)) throw new StepError(`${p.name}: CHANGELOG.md does not start with '# ${p.name}'`);
      const sections = text.split(/^## /m).slice(1);
      const mine = sections.find((s) => s.startsWith(`${p.version}\n`));
      if (mine === undefined) throw new StepError(`${p.name}: CHANGELOG.md has no '## ${p.version}' section`);
      const flat = (s) => s.replace(/\s+/g, ' ').trim();
      const body = flat(mine);
      let n = 0;
      for (const c of changesets) {
        const bump = c.releases[p.name];
        if (bump === undefined) continue;
        n++;
        const first = flat(c.summary.split('\n')[0]);
        const at = body.indexOf(first);
        if (at < 0)
          throw new StepError(`${p.name}: CHANGELOG.md ${p.version} does not mention .changeset/${c.file} ("${first.slice(0, 60)}...")`);
        const heading = { major: '### Major Changes', minor: '### Minor Changes', patch: '### Patch Changes' }[bump];
        const before = body.slice(0, at);
        const last = ['### Major Changes', '### Minor Changes', '### Patch Changes']
          .map((h) => [h, before.lastIndexOf(h)])
          .sort((a, b) => b[1] - a[1])[0];
        if (last[0] !== heading) throw new StepError(`${p.name}: .changeset/${c.file} (${bump}) is under '${last[0]}', want '${heading}'`);
      }
      notes.push(`${p.name} ${n}`);
    }
    return `each package's '## <version>' names every changeset of it, under its bump (${notes.join(', ')})`;
  });
}

let failed = false;
try {
  await main();
} catch {
  failed = true;
}
if (verdaccio !== null && verdaccio.exitCode === null) {
  // stop the registry by its pid and wait for it, so nothing outlives the rehearsal
  const gone = new Promise((r) => verdaccio.once('exit', r));
  process.kill(verdaccio.pid, 'SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  if (verdaccio.exitCode === null && verdaccio.signalCode === null) process.kill(verdaccio.pid, 'SIGKILL');
}
for (const s of steps) {
  const head = `${s.ok ? 'ok  ' : 'FAIL'} ${s.name.padEnd(18)} ${(s.ms / 1000).toFixed(1).padStart(5)}s`;
  console.log(s.ok ? `${head}  ${s.note}` : `${head}  ${s.err.message.split('\n')[0]}`);
}
for (const s of steps.filter((x) => !x.ok)) {
  console.log(`\n--- ${s.name}: ${s.err.message}`);
  if (s.err.output)
    console.log(
      s.err.output
        .trimEnd()
        .split('\n')
        .slice(-40)
        .map((l) => `    ${l}`)
        .join('\n'),
    );
}
console.log(
  `release:rehearse: ${failed ? 'FAILED' : 'ok'} in ${((performance.now() - t0) / 1000).toFixed(1)} s${keep ? `, kept ${TMP}` : ''}`,
);
process.exitCode = failed ? 1 : 0;
