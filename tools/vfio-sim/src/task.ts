// One unit of work for the pool: a scenario run or a replay, as plain data that crosses threads.

import type { Scenario } from './scenario/scenario.js';
import type { TraceSpec } from './report/perfetto.js';
import type { HeaderLine, RecordLine } from './engine/record.js';
import { replayCase, runCase, type CaseOutput } from './engine/run.js';
import type { ProgressSink } from './engine/progress-meter.js';

/** `trace`: true asks for a trace (execute() turns it into the case's TraceSpec before it runs), false for none. */
export type Task =
  | {
      readonly kind: 'run';
      readonly label: string;
      readonly scenario: Scenario;
      readonly trace: boolean | TraceSpec;
      readonly record: boolean;
    }
  | {
      readonly kind: 'replay';
      readonly label: string;
      readonly header: HeaderLine;
      readonly lines: readonly RecordLine[];
      readonly lineNos: readonly number[];
      readonly file: string;
      readonly trace: boolean | TraceSpec;
    };

export function runTask(t: Task, progress?: ProgressSink): CaseOutput {
  const trace = typeof t.trace === 'object' ? t.trace : undefined;
  if (t.kind === 'run') return runCase(t.scenario, t.label, { trace, record: t.record, progress });
  return replayCase(t.header, t.lines, t.label, { trace, progress }, t.lineNos, t.file);
}
