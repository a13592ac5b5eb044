// node --test tools/mutation/stale.test.mjs (part of pnpm test): when stored mutation results still
// describe a file, and how a retest is laid over them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { overlayRetest } from './score.mjs';
import { sameCode, staleFiles } from './stale.mjs';

const SRC = [
  '// why the loop stops at b',
  'export function f(a: number, b: number): number {',
  '  /** the first word of',
  '   * two lines */',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a TypeScript template, in the source text
  '  const t = `${a}:${b}`;',
  '  return /x+/.test(t) ? a / b : a - b; // a remark',
  '}',
  '',
].join('\n');

test('test_same_text_and_comment_edits_in_place_are_the_same_code', () => {
  assert.equal(sameCode(SRC, SRC), true);
  assert.equal(sameCode(SRC, SRC.replace('why the loop stops at b', 'b ends it')), true);
  assert.equal(sameCode(SRC, SRC.replace('// a remark', '/* another, longer remark */')), true);
  // a JSDoc reflowed on as many lines: its tags and text are not code
  assert.equal(sameCode(SRC, SRC.replace('the first word of\n   * two lines', 'the first\n   * of two lines, reworded')), true);
});

test('test_any_change_of_code_or_of_its_place_is_not_the_same_code', () => {
  // a token changed: operator, identifier, template text, regex, comment that moves code down a line
  assert.equal(sameCode(SRC, SRC.replace('a / b', 'a * b')), false);
  assert.equal(sameCode(SRC, SRC.replace('const t', 'const u').replace('(t)', '(u)')), false);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the template of the TypeScript source text
  assert.equal(sameCode(SRC, SRC.replace('`${a}:${b}`', '`${a}-${b}`')), false);
  assert.equal(sameCode(SRC, SRC.replace('/x+/', '/x*/')), false);
  assert.equal(sameCode(SRC, SRC.replace('// why the loop stops at b', '// why the loop\n// stops at b')), false);
  // the same tokens one column over: a mutant's recorded place would no longer match
  assert.equal(sameCode(SRC, SRC.replace('  return', '   return')), false);
});

const mutant = (line, status, replacement) => ({
  id: `${line}${replacement}`,
  mutatorName: 'ArithmeticOperator',
  replacement,
  status,
  location: { start: { line, column: 10 }, end: { line, column: 15 } },
});

test('test_stale_files_lists_changed_and_gone_files_with_their_mutant_counts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stale-'));
  writeFileSync(join(dir, 'kept.ts'), SRC.replace('a remark', 'a new remark'));
  writeFileSync(join(dir, 'edited.ts'), SRC.replace('a - b', 'b - a'));
  const report = {
    files: {
      'kept.ts': { source: SRC, mutants: [mutant(6, 'Killed', 'a * b')] },
      'edited.ts': { source: SRC, mutants: [mutant(6, 'Killed', 'a * b'), mutant(6, 'Survived', 'a + b')] },
      'gone.ts': { source: SRC, mutants: [] },
    },
  };
  assert.deepEqual(staleFiles(dir, report), [
    { file: 'edited.ts', mutants: 2, gone: false },
    { file: 'gone.ts', mutants: 0, gone: true },
  ]);
});

test('test_a_retest_replaces_matching_mutants_and_a_whole_file_retest_replaces_the_file', () => {
  const edited = SRC.replace('a - b', 'b - a');
  const report = {
    files: {
      'a.ts': { source: SRC, mutants: [mutant(6, 'Survived', 'a * b'), mutant(6, 'Killed', 'a + b')] },
      'b.ts': { source: SRC, mutants: [mutant(6, 'Survived', 'a * b')] },
    },
    testFiles: {},
  };
  // a.ts retested after a comment edit (the same code): its one mutant is replaced, the other kept;
  // b.ts retested after a code edit, not whole: stale, ignored
  const partial = {
    files: {
      'a.ts': { source: SRC.replace('a remark', 'reworded'), mutants: [mutant(6, 'Killed', 'a * b')] },
      'b.ts': { source: edited, mutants: [mutant(6, 'Killed', 'a * b')] },
    },
  };
  const once = overlayRetest(report, partial);
  assert.deepEqual(
    once.files['a.ts'].mutants.map((m) => m.status),
    ['Killed', 'Killed'],
  );
  assert.equal(once.files['b.ts'], report.files['b.ts']);
  // b.ts rerun whole: its new results stand for the file, mutants the old source had included
  const whole = { files: { 'b.ts': { source: edited, mutants: [mutant(6, 'Timeout', 'b + a')] } }, wholeFiles: ['b.ts'] };
  const twice = overlayRetest(once, whole);
  assert.equal(twice.files['b.ts'], whole.files['b.ts']);
  assert.equal(twice.files['a.ts'], once.files['a.ts']);
});
