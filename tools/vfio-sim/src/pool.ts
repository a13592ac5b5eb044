// Runs cases serially or on worker threads (piscina). Each case owns its sim and seed, so the
// numbers never depend on scheduling: parallel output is byte-identical to --serial.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CaseOutput } from './engine/run.js';
import type { ProgressSink } from './engine/progress-meter.js';
import { UsageError } from './errors.js';
import { runTask, type Task } from './task.js';
import type { WorkerReply } from './worker.js';

export interface PoolOptions {
  readonly serial?: boolean | undefined;
  /** Worker threads (default: min(cases, CPUs)). */
  readonly workers?: number | undefined;
  /** Called after each finished case with the number done. */
  readonly onCase?: (done: number, label: string) => void;
  /** Progress of a case run in this thread (a single case). */
  readonly progress?: ProgressSink | undefined;
}

/** The compiled worker next to this module (dist/worker.js); absent when running from src. */
function workerFile(): string | null {
  const url = new URL('./worker.js', import.meta.url);
  const p = fileURLToPath(url);
  return existsSync(p) ? p : null;
}

export async function runTasks(tasks: readonly Task[], o: PoolOptions = {}): Promise<CaseOutput[]> {
  const file = workerFile();
  const threads = Math.max(1, Math.min(tasks.length, o.workers ?? availableParallelism()));
  if (o.serial || tasks.length === 1 || threads === 1 || file === null) {
    const out: CaseOutput[] = [];
    for (const t of tasks) {
      out.push(runTask(t, o.progress));
      o.onCase?.(out.length, t.label);
    }
    return out;
  }
  const { Piscina } = await import('piscina');
  const pool = new Piscina<Task, WorkerReply>({ filename: file, minThreads: threads, maxThreads: threads, idleTimeout: 100 });
  let done = 0;
  try {
    // results are placed by index, so the output order is the task order whatever finishes first
    return await Promise.all(
      tasks.map(async (t) => {
        const r = await pool.run(t);
        if ('usage' in r) throw new UsageError(r.usage.option, r.usage.message);
        o.onCase?.(++done, t.label);
        return r.ok;
      }),
    );
  } finally {
    await pool.destroy();
  }
}
