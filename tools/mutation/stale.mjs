// Whether a file's stored mutation results still describe the file on disk. Stryker stores each
// file's source with its mutants; a later edit makes them stale, and a retest of that file is then
// laid over nothing (its places no longer match). An edit of comments only, that leaves every
// token of code where it was, changes neither the mutants nor what the tests run: the results stand.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** Every token of code (not comments or blanks) as `kind line:col text`, in order. */
function codeTokens(text) {
  const sf = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = [];
  const walk = (node) => {
    // a /** */ comment is parsed into JSDoc nodes, which getChildren() lists among the code's
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    // getChildren() scans the tokens between the nodes in their parsing context (templates, regexes)
    const kids = node.getChildren(sf);
    if (kids.length === 0) {
      if (node.kind === ts.SyntaxKind.EndOfFileToken) return;
      const at = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      out.push(`${node.kind} ${at.line}:${at.character} ${node.getText(sf)}`);
      return;
    }
    for (const k of kids) walk(k);
  };
  walk(sf);
  return out;
}

/** True when a and b hold the same code at the same places: they differ in comments or blanks at most. */
export function sameCode(a, b) {
  if (a === b) return true;
  const x = codeTokens(a);
  const y = codeTokens(b);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

/**
 * The files of a report whose code on disk is no longer the code their mutants ran against (or that
 * are gone), with their mutant counts.
 */
export function staleFiles(dir, report) {
  const out = [];
  for (const [file, res] of Object.entries(report.files)) {
    const p = join(dir, file);
    const gone = !existsSync(p);
    if (gone || !sameCode(res.source, readFileSync(p, 'utf8'))) out.push({ file, mutants: res.mutants.length, gone });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : 1));
}
