// node --test tools/pkgcheck/links.test.mjs (the root `pnpm test` runs it before pkgcheck): the README
// link check that pkgcheck runs on every packed README fails on a broken link and only then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anchors, brokenLinks, readmeLinks, slug } from './links.mjs';

const FILES = new Map([
  ['README.md', ''],
  ['LICENSE', ''],
  ['package.json', '{}'],
  ['dist/cli.js', ''],
  ['examples/churn.json', '{}'],
  ['docs/spec.md', '# Spec\n\n## Timeline (generated)\n\n## Costs\n\n## Costs\n'],
]);
const read = (p) => FILES.get(p);
const check = (md) => brokenLinks(md, FILES, read).map((b) => `${b.line} ${b.target}: ${b.why}`);

test('test_links_that_resolve', () => {
  const md = [
    '# @x/pkg',
    '',
    '## First command',
    '',
    'See [the spec](docs/spec.md), [its timeline](docs/spec.md#timeline-generated), [the second Costs](docs/spec.md#costs-1),',
    '[an example](examples/churn.json), [examples](examples/), ![a picture](./examples/churn.json "title"),',
    '[a heading here](#first-command), [web](https://example.org/x.md), [mail](mailto:a@b.c), <a href="LICENSE">license</a>.',
    '',
    '[ref]: docs/spec.md',
  ].join('\n');
  assert.deepEqual(check(md), []);
  assert.equal(readmeLinks(md).length, 11);
});

test('test_links_that_do_not_resolve', () => {
  const md = [
    '# @x/pkg',
    '',
    '[not shipped](examples/qemu-session.mjs)',
    '[the repo](../../packages/iommu-core/docs/spec.md)',
    '[no heading](#what-a-boot-does) and [no heading there](docs/spec.md#nope)',
    '[root](/docs/spec.md)',
    '<img src="docs/html-report.png">',
    '[ref]: test/x.test.ts',
  ].join('\n');
  assert.deepEqual(check(md), [
    '3 examples/qemu-session.mjs: examples/qemu-session.mjs is not in the package',
    '4 ../../packages/iommu-core/docs/spec.md: points outside the package',
    "5 #what-a-boot-does: no heading or anchor 'what-a-boot-does' in README.md",
    "5 docs/spec.md#nope: no heading or anchor 'nope' in docs/spec.md",
    '6 /docs/spec.md: an absolute path, which no package can hold',
    '7 docs/html-report.png: docs/html-report.png is not in the package',
    '8 test/x.test.ts: test/x.test.ts is not in the package',
  ]);
});

test('test_code_is_not_a_link', () => {
  const md = ['# t', '', '```ts', 'const x = a[0](broken.md);', '```', '', 'inline `[x](nope.md)` and', '~~~', '[y](nope2.md)', '~~~'].join(
    '\n',
  );
  assert.deepEqual(check(md), []);
});

test('test_backticks_do_not_hide_links', () => {
  // a double-backtick span holding a single backtick, and an unmatched backtick, end no earlier than they should
  const md = ['# t', '', 'one `` ` `` tick, then [x](nope.md)', 'a lone ` tick', '', 'and [y](nope2.md), `code`, [z](nope3.md)'].join('\n');
  assert.deepEqual(
    check(md).map((l) => l.split(':')[0]),
    ['3 nope.md', '6 nope2.md', '6 nope3.md'],
  );
});

test('test_github_slugs', () => {
  assert.equal(slug('Bug demos (`vfio-sim demo`)'), 'bug-demos-vfio-sim-demo');
  assert.equal(slug('JSON output (`--json`, schema `vfio-sim/result@2`)'), 'json-output---json-schema-vfio-simresult2');
  assert.equal(slug('Performance (bench:scale)'), 'performance-benchscale');
  assert.equal(slug('A [link](x) here'), 'a-link-here');
  assert.deepEqual([...anchors('# A\n## A\n```\n# B\n```\n<a id="c"></a>\n')], ['a', 'a-1', 'c']);
});
