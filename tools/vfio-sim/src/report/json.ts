// --json output: the CommandResult as pretty JSON. Key order is fixed by construction and no wall
// clock or host detail goes in, so the same seed gives byte-identical output.

import type { CommandResult } from '../engine/result.js';

export function renderJson(res: CommandResult): string {
  return `${JSON.stringify(res, null, 2)}\n`;
}
