// The scenario options every command accepts, mapped onto scenario fields. Values are parsed here,
// not by commander, so one parser serves flags, comma lists (compare/sweep) and --case overrides,
// and every error is a UsageError naming the flag.

import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseSize } from './size.js';
import { BACKINGS, DMA_PATTERNS, DRIVERS, FIRMWARES, MACHINES, UNMAP_PATHS, WORKLOADS, checkBacking, type Scenario } from './scenario.js';
import { MACHINE_NAMES, costError, isMachineName, isProfileName, machineError, profileError } from '@x/iommu-core';
import { command } from '../invocation.js';

type Kind = 'size' | 'int' | 'enum' | 'backing' | 'seed' | 'release' | 'onoff' | 'fraction' | 'machine';

export interface OptDef {
  /** commander flag, e.g. '--guest <size>' */
  readonly flag: string;
  /** commander's attribute name */
  readonly attr: string;
  /** scenario path */
  readonly path: string;
  readonly kind: Kind;
  readonly choices?: readonly string[];
  readonly help: string;
}

export const SCENARIO_OPTS: readonly OptDef[] = [
  { flag: '--guest <size>', attr: 'guest', path: 'guest.memory', kind: 'size', help: 'guest RAM (default 64G)' },
  {
    flag: '--qemu-machine <type>',
    attr: 'qemuMachine',
    path: 'guest.machine',
    kind: 'enum',
    choices: MACHINES,
    help: 'QEMU machine: q35 (2G below 4G) or pc (3G below 4G) (default q35)',
  },
  {
    flag: '--below-4g <size>',
    attr: 'below4g',
    path: 'guest.below4g',
    kind: 'size',
    help: "RAM below the 32-bit PCI hole (default: the machine's rule)",
  },
  {
    flag: '--firmware <name>',
    attr: 'firmware',
    path: 'guest.firmware',
    kind: 'enum',
    choices: FIRMWARES,
    help: "boot: seabios (the maps and unmaps QEMU does while SeaBIOS and Linux set up PAM, SMRAM, VGA and the GPU's BARs) or none (each RAM section mapped once) (default seabios)",
  },
  {
    flag: '--gpu-bar <size>',
    attr: 'gpuBar',
    path: 'guest.gpuBar',
    kind: 'size',
    help: "the GPU's prefetchable BAR1 (power of two, placed below 4 GiB as SeaBIOS does; BAR0 is 16M) (default 256M)",
  },
  { flag: '--host-memory <size>', attr: 'hostMemory', path: 'host.memory', kind: 'size', help: 'host RAM (default guest + 4G)' },
  {
    flag: '--backing <kind>',
    attr: 'backing',
    path: 'host.backing',
    kind: 'backing',
    choices: BACKINGS,
    help: 'host backing of guest RAM: 4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p> (default thp)',
  },
  {
    flag: '--machine <name>',
    attr: 'machine',
    path: 'host.machine',
    kind: 'machine',
    help: `host hardware whose costs the clock charges, one per host published figures come from: ${MACHINE_NAMES.join(', ')} (default ${MACHINE_NAMES[0]}; see \`{costs}\`)`,
  },
  {
    flag: '--host-age <0..1>',
    attr: 'hostAge',
    path: 'host.age',
    kind: 'fraction',
    help: 'host allocator: 1 = long-running, fragmented (random frames); 0 = freshly booted (ascending, contiguous memory) (default 0.02: 2% of picks elsewhere, runs of ~25 blocks)',
  },
  {
    flag: '--populate <on|off>',
    attr: 'populate',
    path: 'host.populate',
    kind: 'onoff',
    help: 'guest RAM present at mmap (on) or faulted in and cleared by the first pin (off) (default on)',
  },
  {
    flag: '--driver <name>',
    attr: 'driver',
    path: 'driver',
    kind: 'enum',
    choices: DRIVERS,
    help: "IOMMU driver: amd (AMD-Vi) or reference (VT-d-like, flushing as that release's intel-iommu did) (default amd)",
  },
  {
    flag: '--superpages <on|off>',
    attr: 'superpages',
    path: 'iommu.superpages',
    kind: 'onoff',
    help: 'reference driver page sizes: on = 4K|2M|1G, off = 4K only (VT-d sp_off) (default on)',
  },
  {
    flag: '--profile <release>',
    attr: 'profile',
    path: 'profile',
    kind: 'release',
    help: 'kernel release: any v3.19 .. v7.1, or mainline (= v7.1); see `{timeline}` (default: compare v4.16,v4.17,mainline; run and sweep mainline)',
  },
  { flag: '--devices <n>', attr: 'devices', path: 'devices', kind: 'int', help: 'assigned devices (default 1)' },
  { flag: '--groups <n>', attr: 'groups', path: 'groups', kind: 'int', help: 'IOMMU groups the devices are spread over (default 1)' },
  {
    flag: '--dma <pattern>',
    attr: 'dma',
    path: 'dma.pattern',
    kind: 'enum',
    choices: DMA_PATTERNS,
    help: 'device DMA pattern: none, sequential, random, hotset (default random)',
  },
  { flag: '--dma-bursts <n>', attr: 'dmaBursts', path: 'dma.bursts', kind: 'int', help: 'DMA bursts while the guest runs (default 64)' },
  { flag: '--dma-pages <n>', attr: 'dmaPages', path: 'dma.pages', kind: 'int', help: '4 KiB pages per DMA burst (default 16)' },
  {
    flag: '--workload <kind>',
    attr: 'workload',
    path: 'workload',
    kind: 'enum',
    choices: WORKLOADS,
    help: 'boot (map all, DMA, unmap all), churn (vIOMMU/DPDK-like small map/unmap), boot+churn (default boot)',
  },
  { flag: '--churn-ops <n>', attr: 'churnOps', path: 'churn.ops', kind: 'int', help: 'churn: map calls (default 2000)' },
  {
    flag: '--churn-max-pages <n>',
    attr: 'churnMaxPages',
    path: 'churn.maxPages',
    kind: 'int',
    help: 'churn: largest buffer in 4 KiB pages (default 16)',
  },
  { flag: '--churn-live <n>', attr: 'churnLive', path: 'churn.live', kind: 'int', help: 'churn: mappings alive at once (default 32)' },
  {
    flag: '--tlb-sync-max <n>',
    attr: 'tlbSyncMax',
    path: 'vfio.tlbSyncMax',
    kind: 'int',
    help: 'VFIO_IOMMU_TLB_SYNC_MAX: regions queued per IOTLB sync (default 512)',
  },
  {
    flag: '--unmap-path <path>',
    attr: 'unmapPath',
    path: 'vfio.unmapPath',
    kind: 'enum',
    choices: UNMAP_PATHS,
    help: "force the VFIO unmap path: slow (before v4.17), fast (v4.17 region list), mainline (v5.4+ gather) (default: the release's)",
  },
  {
    flag: '--dma-entry-limit <n>',
    attr: 'dmaEntryLimit',
    path: 'vfio.dmaEntryLimit',
    kind: 'int',
    help: 'vfio_iommu_type1 dma_entry_limit: most live DMA mappings (v5.1+ releases only; default 65535)',
  },
  {
    flag: '--iotlb-entries <n>',
    attr: 'iotlbEntries',
    path: 'iommu.iotlbEntries',
    kind: 'int',
    help: 'IOTLB capacity of the emulated IOMMU (default 1024)',
  },
  { flag: '--seed <n>', attr: 'seed', path: 'seed', kind: 'seed', help: 'PRNG seed (default 1)' },
];

/** Registers the scenario options (and the boolean/cost ones) on a command. */
export function addScenarioOptions(cmd: Command): Command {
  // compare and sweep take comma lists on every option but --seed; their descriptions say so once
  // `{timeline}` in a help text: the timeline command as the user runs it (invocation.ts)
  for (const o of SCENARIO_OPTS)
    cmd.option(o.flag, o.help.replace('{timeline}', command('timeline')).replace('{costs}', command('report --costs --machine NAME')));
  cmd.option(
    '--no-vga-hole',
    'map the RAM below 4G as one block (QEMU sees 0xa0000-0xbffff as VGA MMIO); with --firmware seabios: the GPU has no legacy VGA (x-vga=off)',
  );
  cmd.option('--disable-hugepages', 'vfio_iommu_type1 disable_hugepages=1 (pin and map page by page)');
  cmd.option('--cost <event=ns,...>', `override modeled costs, e.g. completionWaits=2000,pins=100 (see \`${command('report --costs')}\`)`);
  cmd.option('--scenario <file>', 'read the scenario from a JSON file (flags given as well override its fields)');
  return cmd;
}

export const flagName = (o: OptDef): string => o.flag.split(' ')[0]!;

/** Parses one value of an option into its scenario value. */
function parseValue(o: OptDef, text: string): string | number | boolean {
  const f = flagName(o);
  const t = text.trim();
  switch (o.kind) {
    case 'size':
      parseSize(t, f);
      return t;
    case 'int':
    case 'seed':
      if (!/^\d+$/.test(t)) throw new UsageError(f, `'${text}' is not a whole number`);
      // beyond 2^53 Number() rounds: the range check would echo a value nobody typed
      if (!Number.isSafeInteger(Number(t))) throw new UsageError(f, `'${t}' is too large (every option's range ends below 2^53)`);
      return Number(t);
    case 'enum':
      if (!o.choices!.includes(t)) throw new UsageError(f, `'${text}' is not one of ${o.choices!.join(', ')}`);
      return t;
    case 'backing':
      return checkBacking(t); // its message says what p may be
    case 'release':
      if (!isProfileName(t)) throw new UsageError(f, profileError(t));
      return t;
    case 'machine':
      // --machine was the QEMU machine type before it named the host's hardware
      if ((MACHINES as readonly string[]).includes(t))
        throw new UsageError(
          f,
          `'${t}' is a QEMU machine type: use --qemu-machine ${t} (--machine names the host hardware: ${MACHINE_NAMES.join(', ')})`,
        );
      if (!isMachineName(t)) throw new UsageError(f, machineError(t));
      return t;
    case 'onoff':
      if (t !== 'on' && t !== 'off') throw new UsageError(f, `'${text}' is not on or off`);
      return t === 'on';
    case 'fraction':
      // a plain decimal ('0', '0.25', '.5', '1'): no exponent, sign or hex, which Number() would take
      if (!/^(\d+\.?\d*|\.\d+)$/.test(t) || !(Number(t) >= 0 && Number(t) <= 1))
        throw new UsageError(f, `'${text}' is not a number in [0, 1]`);
      return Number(t);
  }
}

export function setPath(s: Scenario, path: string, v: unknown): void {
  const keys = path.split('.');
  let o = s as unknown as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]!] = v;
}

/** Parses --cost event=ns,...: each ns a number in [0, 1e9]. */
export function parseCost(text: string): Record<string, number> {
  // a Map, then fromEntries: assigning out['__proto__'] would drop the event instead of naming it unknown
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null) throw new UsageError('--cost', `'${part}' is not event=ns (e.g. completionWaits=2000)`);
    // Number('') and Number(' ') are 0: only a numeral counts
    const v = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(m[2]!) ? Number(m[2]) : NaN;
    const e = costError(m[1]!, v);
    if (e !== null)
      throw new UsageError('--cost', Number.isNaN(v) ? `'${m[2]}' is not a number (${m[1]}=ns, e.g. completionWaits=2000)` : e);
    out.set(m[1]!, v);
  }
  return Object.fromEntries(out);
}

/** Splits each given option into its values; `lists` false rejects commas. */
export function optionValues(opts: Record<string, unknown>, lists: boolean): Map<OptDef, (string | number | boolean)[]> {
  const out = new Map<OptDef, (string | number | boolean)[]>();
  for (const o of SCENARIO_OPTS) {
    const raw = opts[o.attr];
    if (raw === undefined) continue;
    const parts = String(raw).split(',');
    if (parts.every((x) => x.trim() === '')) throw new UsageError(flagName(o), 'needs a value');
    if (parts.some((x) => x.trim() === '')) throw new UsageError(flagName(o), `'${String(raw)}' has an empty list entry`);
    if (parts.length > 1 && (!lists || o.kind === 'seed')) {
      throw new UsageError(
        flagName(o),
        `takes one value here, got '${String(raw)}' (comma lists work with compare and sweep${o.kind === 'seed' ? ', but not for --seed' : ''})`,
      );
    }
    const vals = parts.map((p) => parseValue(o, p));
    if (new Set(vals).size !== vals.length) throw new UsageError(flagName(o), `lists a value twice: '${String(raw)}'`);
    out.set(o, vals);
  }
  return out;
}
