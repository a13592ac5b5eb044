// Where the time goes, from a V8 .cpuprofile (what `node --cpu-prof` writes): each function's self
// share and its inclusive share (itself plus everything it called, counted once per sample even
// when it recurses). bench:scale --prof prints this per case, so a missed time target comes with
// its breakdown without opening the profile in a viewer.

import { readFileSync } from 'node:fs';

/** A function as a profile names it: `name file:line` (anonymous functions as '(anonymous)'). */
function frameKey(cf) {
  const file = cf.url ? cf.url.split('/').slice(-3).join('/') : '';
  return `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
}

/**
 * Summarises a parsed .cpuprofile: { totalMs, self: [{fn, ms, pct}], inclusive: [{fn, ms, pct}] },
 * each list sorted by time (ties by name), `top` entries long. Inclusive entries at or above
 * `maxInclusivePct` (the runner frames nearly every sample passes through: the scenario loop, the
 * ioctl dispatch) are left out.
 */
export function summariseProfile(profile, top = 12, maxInclusivePct = 80) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map(); // node id -> sampled microseconds
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    hits.set(id, (hits.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  for (const t of hits.values()) total += t;
  const self = new Map(),
    incl = new Map();
  const root = profile.nodes[0];
  // iterative DFS: a deep profile would overflow a recursive walk
  // parentKeys: the functions on the stack above a node (a Set per distinct stack, shared by siblings)
  const stack = [root],
    order = [],
    sums = new Map();
  const parentKeys = new Map([[root.id, new Set()]]);
  while (stack.length > 0) {
    const node = stack.pop();
    order.push(node);
    const mine = new Set(parentKeys.get(node.id)).add(frameKey(node.callFrame));
    for (const c of node.children ?? []) {
      parentKeys.set(c, mine);
      stack.push(byId.get(c));
    }
  }
  // children come after their parent in `order`: fold the sums bottom-up
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    let s = hits.get(node.id) ?? 0;
    for (const c of node.children ?? []) s += sums.get(c);
    sums.set(node.id, s);
    const k = frameKey(node.callFrame);
    self.set(k, (self.get(k) ?? 0) + (hits.get(node.id) ?? 0));
    // a recursive function counts once: only its outermost frame adds its subtree
    if (!parentKeys.get(node.id).has(k)) incl.set(k, (incl.get(k) ?? 0) + s);
  }
  const list = (m, cap) =>
    [...m]
      .map(([fn, us]) => ({ fn, ms: us / 1000, pct: total === 0 ? 0 : (100 * us) / total }))
      .filter((e) => e.ms > 0 && e.pct < cap)
      .sort((a, b) => b.ms - a.ms || (a.fn < b.fn ? -1 : 1))
      .slice(0, top);
  return { totalMs: total / 1000, self: list(self, Infinity), inclusive: list(incl, maxInclusivePct) };
}

export function summariseProfileFile(path, top, maxInclusivePct) {
  return summariseProfile(JSON.parse(readFileSync(path, 'utf8')), top, maxInclusivePct);
}

/** Two columns of text, inclusive on the left and self on the right. */
export function formatProfileSummary(title, s) {
  const cell = (e) => (e ? `${e.pct.toFixed(1).padStart(5)}%  ${e.fn}` : '');
  const rows = Math.max(s.inclusive.length, s.self.length);
  const w = Math.max(30, ...s.inclusive.map((e) => cell(e).length));
  const out = [`${title}: ${s.totalMs.toFixed(0)} ms sampled`, `  ${'inclusive (with callees)'.padEnd(w)}   self`];
  for (let i = 0; i < rows; i++) out.push(`  ${cell(s.inclusive[i]).padEnd(w)}   ${cell(s.self[i])}`.trimEnd());
  return out.join('\n');
}
