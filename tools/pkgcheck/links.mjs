// The links of a README as a reader of the published package meets them (on npmjs.com, in
// node_modules): each relative link must name a file inside the tarball, and each #fragment a
// heading (GitHub's slug) or an id/name anchor of the file it points into. Absolute URLs are not
// fetched. Plain Node ESM, no dependencies; links.test.mjs is its test.
import path from 'node:path';

const SCHEME = /^[a-z][a-z0-9+.-]*:|^\/\//i; // https:, mailto:, //host

/** The markdown with fenced code blocks and HTML comments blanked (line numbers kept). */
function withoutBlocks(md) {
  const blank = (s) => s.replace(/[^\n]/g, ' ');
  let fence = null; // the opening fence while inside a code block
  const lines = md
    .replace(/<!--[\s\S]*?-->/g, blank)
    .split('\n')
    .map((l) => {
      const m = /^ {0,3}(`{3,}|~{3,})/.exec(l);
      if (fence === null && m) {
        fence = m[1];
        return blank(l);
      }
      if (fence !== null) {
        if (m && m[1][0] === fence[0] && m[1].length >= fence.length && l.trim() === m[1]) fence = null;
        return blank(l);
      }
      return l;
    });
  return lines.join('\n');
}

/**
 * withoutBlocks() with inline code spans blanked too: what remains can hold links. A span opens with a
 * run of n backticks and closes at the next run of exactly n within the paragraph; an unmatched run is
 * literal text (CommonMark).
 */
function prose(md) {
  const t = withoutBlocks(md);
  let out = '',
    i = 0;
  while (i < t.length) {
    const open = t.indexOf('`', i);
    if (open < 0) {
      out += t.slice(i);
      break;
    }
    let n = 1;
    while (t[open + n] === '`') n++;
    const para = t.indexOf('\n\n', open);
    const limit = para < 0 ? t.length : para;
    let close = -1;
    for (let j = t.indexOf('`', open + n); j >= 0 && j < limit; j = t.indexOf('`', j + 1)) {
      let m = 1;
      while (t[j + m] === '`') m++;
      if (m === n) {
        close = j;
        break;
      }
      j += m - 1;
    }
    if (close < 0) {
      out += t.slice(i, open + n);
      i = open + n;
      continue;
    }
    out += t.slice(i, open) + t.slice(open, close + n).replace(/[^\n]/g, ' ');
    i = close + n;
  }
  return out;
}

/** Every link target in the markdown: `[t](x)`, `![a](x)`, `[r]: x`, `href="x"`, `src="x"`, with its line. */
export function readmeLinks(md) {
  const text = prose(md);
  const out = [];
  const lineOf = (i) => text.slice(0, i).split('\n').length;
  const add = (target, i) => out.push({ target: target.trim(), line: lineOf(i) });
  for (const m of text.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    add(m[1].replace(/^<|>$/g, ''), m.index);
  }
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:[ \t]*(<[^>]*>|\S+)/gm)) add(m[1].replace(/^<|>$/g, ''), m.index);
  for (const m of text.matchAll(/\b(?:href|src)\s*=\s*("[^"]*"|'[^']*')/gi)) add(m[1].slice(1, -1), m.index);
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped (hyphens and underscores stay), spaces as hyphens. */
export function slug(heading) {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading counts by its text
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors a markdown file defines: heading slugs (duplicates get -1, -2, ...) and id="x" / name="x". */
export function anchors(md) {
  const seen = new Map();
  const out = new Set();
  for (const m of withoutBlocks(md).matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const s = slug(m[1]);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n === 0 ? s : `${s}-${n}`);
  }
  for (const m of md.matchAll(/\b(?:id|name)\s*=\s*["']([^"']+)["']/g)) out.add(m[1]);
  return out;
}

/**
 * The README's links that do not resolve inside the package: `files` are the tarball's paths relative to
 * the package root (a Set or a Map's keys), `read(p)` returns a file's text (for fragments), `readme` is
 * the README's own path in the package. Returns [{ line, target, why }] (empty when every link resolves).
 */
export function brokenLinks(md, files, read, readme = 'README.md') {
  const have = new Set(files instanceof Map ? files.keys() : files);
  const broken = [];
  const own = anchors(md);
  for (const { target, line } of readmeLinks(md)) {
    if (target === '' || SCHEME.test(target)) continue;
    const hash = target.indexOf('#');
    const rawPath = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
    const frag = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    if (rawPath === '') {
      if (frag !== null && !own.has(frag)) broken.push({ line, target, why: `no heading or anchor '${frag}' in ${readme}` });
      continue;
    }
    let p;
    try {
      p = decodeURIComponent(rawPath);
    } catch {
      p = rawPath;
    }
    if (p.startsWith('/')) {
      broken.push({ line, target, why: 'an absolute path, which no package can hold' });
      continue;
    }
    const rel = path.posix.normalize(path.posix.join(path.posix.dirname(readme), p)).replace(/\/$/, '');
    if (rel === '..' || rel.startsWith('../')) {
      broken.push({ line, target, why: 'points outside the package' });
      continue;
    }
    const isFile = have.has(rel);
    const isDir = !isFile && [...have].some((f) => f.startsWith(`${rel}/`));
    if (!isFile && !isDir) {
      broken.push({ line, target, why: `${rel} is not in the package` });
      continue;
    }
    if (frag !== null && isFile && /\.md$/i.test(rel)) {
      const text = read(rel);
      if (text !== undefined && !anchors(text).has(frag)) broken.push({ line, target, why: `no heading or anchor '${frag}' in ${rel}` });
    }
  }
  return broken.sort((a, b) => a.line - b.line);
}
