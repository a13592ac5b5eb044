// Names that are Object.prototype's ('toString', 'constructor', '__proto__') wherever a user names
// something: a replay line's op and a phase, a scenario file's fields, a --cost event. Each is an
// ordinary unknown name (one clear line) or an ordinary phase, never an internal error, a silently
// dropped value or a phase time that is a function.

import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/engine/record.js';
import { commandResult } from '../src/engine/result.js';
import { replayCase } from '../src/engine/run.js';
import { UsageError } from '../src/errors.js';
import { renderHtml } from '../src/report/html.js';
import { tableRows } from '../src/report/table.js';
import { parseCost } from '../src/scenario/options.js';
import { defaultScenario, mergeScenario } from '../src/scenario/scenario.js';

const HEADER = '{"op":"header","format":"vfio-sim-replay","version":1}';
const NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty'];

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('prototype names', () => {
  it.each(NAMES)('test_replay_op_%s_is_unknown', (name) => {
    expect(usage(() => parseReplay(`${HEADER}\n{"op":"${name}"}`, 'f.jsonl'))).toBe(
      `f.jsonl:2: unknown op '${name}' (mmap, phase, ioctl, dma)`,
    );
  });

  it('test_replay_phases_with_prototype_names', () => {
    const lines = [HEADER, '{"op":"mmap","size":"0x200000"}'];
    for (const n of NAMES) {
      lines.push(`{"op":"phase","name":"${n}"}`);
      lines.push('{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"0x7f0000000000","iova":"0x0","size":"0x200000"}}');
      lines.push('{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x200000"}}');
    }
    const p = parseReplay(lines.join('\n'), 'f.jsonl');
    const c = replayCase(p.header, p.lines, 'a', {}, p.lineNos).result;
    // every phase its own entry, a number of nanoseconds; the four map and unmap the same 2 MiB
    expect(Object.keys(c.metrics.phaseNs)).toEqual(NAMES);
    const t = Object.values(c.metrics.phaseNs);
    for (const ns of t) expect(typeof ns).toBe('number');
    expect(t[0]).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(c.metrics.phaseNs))).toEqual(c.metrics.phaseNs);
    // a second case without them: no phase of the first is read off the prototype
    const q = parseReplay([HEADER, '{"op":"mmap","size":"0x200000"}', '{"op":"phase","name":"boot"}'].join('\n'), 'g.jsonl');
    const d = replayCase(q.header, q.lines, 'b', {}, q.lineNos).result;
    const res = commandResult('compare', [d, c], null);
    expect(res.changes).toEqual([{ label: 'a', vs: 'b', modeledNs: expect.any(Number), phaseNs: {} }]);
    const rows = tableRows([d, c]);
    const html = renderHtml(res);
    for (const n of NAMES) {
      const row = rows.find((r) => r[0] === `modeled time: ${n}`);
      expect(row, n).toBeDefined();
      // the case without the phase shows 0 ns, in the table and in the HTML report's phase bars
      expect(row![1](d)).toBe('0 ns');
      expect(html).toContain(`<title>${n} b: 0</title>`);
    }
  });

  it.each(NAMES)('test_scenario_field_%s_is_unknown', (name) => {
    const top = usage(() => mergeScenario(defaultScenario(), JSON.parse(`{"${name}":1}`), 'f.json'));
    expect(top).toMatch(new RegExp(`^f\\.json: unknown field '${name}' \\(known: name, seed, guest, `));
    const nested = usage(() => mergeScenario(defaultScenario(), JSON.parse(`{"guest":{"${name}":1}}`), 'f.json'));
    expect(nested).toMatch(new RegExp(`^f\\.json: unknown field 'guest\\.${name}' \\(known: guest\\.memory, `));
  });

  it.each(NAMES)('test_cost_event_%s_is_kept_for_the_unknown_event_check', (name) => {
    // parseCost checks the value; the event name is checked against the driver's events later, so
    // it must still be there
    expect(Object.keys(parseCost(`${name}=5,pins=2`))).toEqual([name, 'pins']);
    expect(parseCost(`${name}=5`)[name]).toBe(5);
  });
});
