// One A/B case, run by run.mjs under callgrind: `node case.mjs <tree> <case> <n>` warms up, then
// runs n operations of the case (cases.mjs) against the built packages of the checkout at <tree>.
// run.mjs runs it for two op counts and takes the difference, so start-up, module loading and
// warm-up cancel.
import { pathToFileURL } from 'node:url';
import { CASES } from './cases.mjs';

const [tree, name, nArg] = process.argv.slice(2);
const n = Number(nArg);
const c = CASES[name];
if (c === undefined || !Number.isInteger(n) || n < 0) {
  console.error(`case.mjs: usage: node case.mjs <tree> <${Object.keys(CASES).join(' | ')}> <n>`);
  process.exit(2);
}
const op = await c.make((pkg) => pathToFileURL(`${tree}/packages/${pkg}/dist/index.js`).href);
for (let i = 0; i < c.warm; i++) op(i);
for (let i = 0; i < n; i++) op(i);
