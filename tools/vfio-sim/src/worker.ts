// piscina worker entry: runs one task in this thread and returns its plain-data output. A usage
// error (say the host cannot back the guest) comes back as data, since class identity does not
// survive the thread boundary, and the pool rethrows it as a UsageError.

import { UsageError } from './errors.js';
import type { CaseOutput } from './engine/run.js';
import { runTask, type Task } from './task.js';

export type WorkerReply = { readonly ok: CaseOutput } | { readonly usage: { readonly option: string; readonly message: string } };

/** One case in the caller's thread, with CaseOptions a worker task cannot carry (bench/scale.mjs: onMachine). */
export { runCase } from './engine/run.js';

export default function work(t: Task): WorkerReply {
  try {
    return { ok: runTask(t) };
  } catch (e) {
    if (e instanceof UsageError) return { usage: { option: e.option, message: e.detail } };
    throw e;
  }
}
