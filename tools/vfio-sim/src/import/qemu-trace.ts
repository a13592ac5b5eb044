// Reads QEMU's -trace text: the log backend's line (an optional `PID@sec.usec:` / `TID@sec.usec:`
// prefix, or since 10.1 with -msg timestamp=on an ISO-8601 UTC time and a space), the syslog
// backend's (`<date> <host> qemu-system-x86_64[<pid>]: `) and the ftrace backend's (`...:
// tracing_mark_write: `), each followed by `<event> <formatted args>`. The formats of the events the
// VFIO memory listener and the iommufd backend emit (hw/vfio/trace-events, backends/trace-events;
// format strings are data, quoted in the comments) are parsed into typed events.

/** How a line was prefixed, for the import's summary. */
export type PrefixKind = 'none' | 'pid@time' | 'iso8601' | 'syslog' | 'ftrace';

/** One event as QEMU printed it: its name and what follows the separating space (formats may start with a space). */
export interface RawEvent {
  readonly event: string;
  readonly args: string;
  readonly prefix: PrefixKind;
}

// log backend <= 5.2 always, 6.0 .. 10.0 with -msg timestamp=on: "2986097@1753122905.917608:name args"
const PID_TIME = /^\d+@\d+\.\d+:/;
// 10.1+ with -msg timestamp=on: "2025-07-21T18:43:28.089797Z name args" (an interim patch put "(TID) " after it)
const ISO8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z (?:\(\d+\) )?/;
// ftrace backend: the message written to trace_marker, as the trace file shows it
const FTRACE = /\btracing_mark_write: /;
// syslog backend: syslog(LOG_INFO, "name fmt") as a log file or journalctl shows it: "... qemu-system-x86_64[7131]: "
const SYSLOG = /^.*?\S\[\d+\]: /;
/** The backends' prefixes, tried in this order; the event starts where the match ends. */
const PREFIXES: readonly (readonly [RegExp, PrefixKind])[] = [
  [PID_TIME, 'pid@time'],
  [ISO8601, 'iso8601'],
  [FTRACE, 'ftrace'],
  [SYSLOG, 'syslog'],
];
// a trace event name (lower case, with an underscore, as every QEMU event has) and its formatted arguments
const EVENT = /^([a-z][a-z0-9]*_[a-z0-9_]*)(?: (.*))?$/;

/** Splits a line into its event and arguments, or null when it is not a trace event (error_report output, blank, ...). */
export function splitTraceLine(line: string): RawEvent | null {
  let rest = line.endsWith('\r') ? line.slice(0, -1) : line;
  let prefix: PrefixKind = 'none';
  for (const [re, kind] of PREFIXES) {
    const m = re.exec(rest);
    if (m === null) continue;
    prefix = kind;
    rest = rest.slice(m.index + m[0].length);
    break;
  }
  const e = EVENT.exec(rest);
  if (e === null) return null;
  return { event: e[1]!, args: e[2] ?? '', prefix };
}

/** A trace event the importer acts on, its arguments read (addresses as bigint bytes; `last` is inclusive). */
export type QemuEvent =
  /** vfio_listener_region_add_ram: the MAP_DMA QEMU is about to issue; vaddr null for `(nil)`. */
  | { readonly kind: 'add'; readonly iova: bigint; readonly last: bigint; readonly vaddr: bigint | null }
  /** vfio_listener_region_del: the UNMAP_DMA QEMU is about to issue. */
  | { readonly kind: 'del'; readonly iova: bigint; readonly last: bigint }
  /** vfio_listener_region_skip (8.0+), _add_skip / _del_skip (before): a section VFIO does not map (MMIO, ...). */
  | { readonly kind: 'skip' }
  /** vfio_listener_region_add_no_dma_map: the ram_device section just added is not IOMMU-page aligned; QEMU maps nothing. */
  | { readonly kind: 'noDmaMap'; readonly name: string; readonly iova: bigint; readonly size: bigint }
  /** vfio_listener_region_add_iommu / _del_iommu: a vIOMMU region (its maps come as notifications). */
  | { readonly kind: 'addIommu' }
  | { readonly kind: 'delIommu' }
  /** vfio_iommu_map_notify: a vIOMMU map or unmap; the trace has no host address for it. */
  | { readonly kind: 'iommuNotify'; readonly map: boolean }
  /** iommufd_backend_map_dma / _map_file_dma (traced after the ioctl, with its return value). */
  | {
      readonly kind: 'ioasMap';
      readonly ioas: number;
      readonly iova: bigint;
      readonly size: bigint;
      readonly vaddr: bigint | null;
      readonly fd: number | null;
      readonly start: bigint;
      readonly readonly: boolean;
      readonly ret: number;
    }
  /** iommufd_backend_unmap_dma / _unmap_dma_non_exist (the kernel found nothing there; QEMU takes it as success). */
  | {
      readonly kind: 'ioasUnmap';
      readonly ioas: number;
      readonly iova: bigint;
      readonly size: bigint;
      readonly ret: number;
      readonly nonExist: boolean;
    }
  /** pci_update_mappings_add / _del: a device's BAR appears at or leaves a guest address. */
  | { readonly kind: 'bar'; readonly add: boolean; readonly dev: string; readonly addr: bigint; readonly size: bigint }
  /** A VFIO event that changes no mapping (known_safe_misalignment, the unmap overflow workaround's retry note, ...). */
  | { readonly kind: 'note' };

const H = '0x([0-9a-f]+)';
const P = '(0x[0-9a-f]+|\\(nil\\))'; // %p: glibc prints (nil) for NULL
const FORMATS: Readonly<Record<string, readonly [RegExp, string]>> = {
  // "region_add [ram] 0x%"PRIx64" - 0x%"PRIx64" [%p]"
  vfio_listener_region_add_ram: [
    new RegExp(`^region_add \\[ram\\] ${H} - ${H} \\[${P}\\]$`),
    'region_add [ram] 0x<iova> - 0x<last> [<host address>]',
  ],
  // "region_del 0x%"PRIx64" - 0x%"PRIx64
  vfio_listener_region_del: [new RegExp(`^region_del ${H} - ${H}$`), 'region_del 0x<iova> - 0x<last>'],
  // 8.0+: "SKIPPING %s 0x%"PRIx64" - 0x%"PRIx64; before: "SKIPPING region_add ..." / "SKIPPING region_del ..."
  vfio_listener_region_skip: [new RegExp(`^SKIPPING \\S+ ${H} - ${H}$`), 'SKIPPING <callback> 0x<start> - 0x<last>'],
  vfio_listener_region_add_skip: [new RegExp(`^SKIPPING region_add ${H} - ${H}$`), 'SKIPPING region_add 0x<start> - 0x<last>'],
  vfio_listener_region_del_skip: [new RegExp(`^SKIPPING region_del ${H} - ${H}$`), 'SKIPPING region_del 0x<start> - 0x<last>'],
  // "Region \"%s\" 0x%"PRIx64" size=0x%"PRIx64" is not aligned to 0x%"PRIx64" and cannot be mapped for DMA"
  vfio_listener_region_add_no_dma_map: [
    new RegExp(`^Region "(.*)" ${H} size=${H} is not aligned to ${H} and cannot be mapped for DMA$`),
    'Region "<name>" 0x<iova> size=0x<size> is not aligned to 0x<page> and cannot be mapped for DMA',
  ],
  // 9.1+: "region_add [iommu] %s 0x.. - 0x.."; before: without the name
  vfio_listener_region_add_iommu: [/^region_add \[iommu\] /, 'region_add [iommu] ...'],
  vfio_listener_region_del_iommu: [/^region_del \[iommu\] /, 'region_del [iommu] <name>'],
  // "iommu %s @ 0x%"PRIx64" - 0x%"PRIx64
  vfio_iommu_map_notify: [new RegExp(`^iommu (MAP|UNMAP) @ ${H} - ${H}$`), 'iommu MAP|UNMAP @ 0x<iova> - 0x<last>'],
  // " iommufd=%d ioas=%d iova=0x%"PRIx64" size=0x%"PRIx64" addr=%p readonly=%d (%d)"
  iommufd_backend_map_dma: [
    new RegExp(`^ ?iommufd=(-?\\d+) ioas=(\\d+) iova=${H} size=${H} addr=${P} readonly=(\\d) \\((-?\\d+)\\)$`),
    'iommufd=<n> ioas=<n> iova=0x<iova> size=0x<size> addr=<host address> readonly=<0|1> (<ret>)',
  ],
  // " iommufd=%d ioas=%d iova=0x%"PRIx64" size=0x%"PRIx64" fd=%d start=%ld readonly=%d (%d)"
  iommufd_backend_map_file_dma: [
    new RegExp(`^ ?iommufd=(-?\\d+) ioas=(\\d+) iova=${H} size=${H} fd=(-?\\d+) start=(\\d+) readonly=(\\d) \\((-?\\d+)\\)$`),
    'iommufd=<n> ioas=<n> iova=0x<iova> size=0x<size> fd=<n> start=<offset> readonly=<0|1> (<ret>)',
  ],
  // " iommufd=%d ioas=%d iova=0x%"PRIx64" size=0x%"PRIx64" (%d)"
  iommufd_backend_unmap_dma: [
    new RegExp(`^ ?iommufd=(-?\\d+) ioas=(\\d+) iova=${H} size=${H} \\((-?\\d+)\\)$`),
    'iommufd=<n> ioas=<n> iova=0x<iova> size=0x<size> (<ret>)',
  ],
  // " Unmap nonexistent mapping: iommufd=%d ioas=%d iova=0x%"PRIx64" size=0x%"PRIx64" (%d)"
  iommufd_backend_unmap_dma_non_exist: [
    new RegExp(`^ ?Unmap nonexistent mapping: iommufd=(-?\\d+) ioas=(\\d+) iova=${H} size=${H} \\((-?\\d+)\\)$`),
    'Unmap nonexistent mapping: iommufd=<n> ioas=<n> iova=0x<iova> size=0x<size> (<ret>)',
  ],
  // "%s %02x:%02x.%x %d,0x%"PRIx64"+0x%"PRIx64 (device name, bus:slot.func, BAR, address+size)
  pci_update_mappings_add: [
    new RegExp(`^(\\S+) [0-9a-f]+:[0-9a-f]+\\.[0-9a-f] (\\d+),${H}\\+${H}$`),
    '<device> <bus>:<slot>.<fn> <bar>,0x<addr>+0x<size>',
  ],
  pci_update_mappings_del: [
    new RegExp(`^(\\S+) [0-9a-f]+:[0-9a-f]+\\.[0-9a-f] (\\d+),${H}\\+${H}$`),
    '<device> <bus>:<slot>.<fn> <bar>,0x<addr>+0x<size>',
  ],
};
/** VFIO events that change no mapping but show the trace is one of a VFIO listener. */
const NOTES = new Set(['vfio_known_safe_misalignment', 'vfio_dma_unmap_overflow_workaround', 'vfio_legacy_dma_unmap_overflow_workaround']);

/** Events the import reads, for the no-event message. */
export const MAP_EVENTS = [
  'vfio_listener_region_add_ram',
  'vfio_listener_region_del',
  'iommufd_backend_map_dma',
  'iommufd_backend_map_file_dma',
  'iommufd_backend_unmap_dma',
] as const;

const hx = (s: string): bigint => BigInt(`0x${s}`);
const ptr = (s: string): bigint | null => (s === '(nil)' ? null : BigInt(s));

/**
 * The typed event of a raw one; null for an event the import does not read (vfio_region_mmap,
 * vfio_pci_write_config, ...). Throws Error with the expected format when a known event's
 * arguments do not parse (a cut line, another QEMU's format).
 */
export function readEvent(e: RawEvent): QemuEvent | null {
  if (NOTES.has(e.event)) return { kind: 'note' };
  const f = FORMATS[e.event];
  if (f === undefined) return null;
  const m = f[0].exec(e.args);
  if (m === null) throw new Error(`${e.event}: cannot read '${e.args}' (expected '${f[1]}')`);
  switch (e.event) {
    case 'vfio_listener_region_add_ram':
      return { kind: 'add', iova: hx(m[1]!), last: hx(m[2]!), vaddr: ptr(m[3]!) };
    case 'vfio_listener_region_del':
      return { kind: 'del', iova: hx(m[1]!), last: hx(m[2]!) };
    case 'vfio_listener_region_skip':
    case 'vfio_listener_region_add_skip':
    case 'vfio_listener_region_del_skip':
      return { kind: 'skip' };
    case 'vfio_listener_region_add_no_dma_map':
      return { kind: 'noDmaMap', name: m[1]!, iova: hx(m[2]!), size: hx(m[3]!) };
    case 'vfio_listener_region_add_iommu':
      return { kind: 'addIommu' };
    case 'vfio_listener_region_del_iommu':
      return { kind: 'delIommu' };
    case 'vfio_iommu_map_notify':
      return { kind: 'iommuNotify', map: m[1] === 'MAP' };
    case 'iommufd_backend_map_dma':
      return {
        kind: 'ioasMap',
        ioas: Number(m[2]),
        iova: hx(m[3]!),
        size: hx(m[4]!),
        vaddr: ptr(m[5]!),
        fd: null,
        start: 0n,
        readonly: m[6] !== '0',
        ret: Number(m[7]),
      };
    case 'iommufd_backend_map_file_dma':
      return {
        kind: 'ioasMap',
        ioas: Number(m[2]),
        iova: hx(m[3]!),
        size: hx(m[4]!),
        vaddr: null,
        fd: Number(m[5]),
        start: BigInt(m[6]!),
        readonly: m[7] !== '0',
        ret: Number(m[8]),
      };
    case 'iommufd_backend_unmap_dma':
      return { kind: 'ioasUnmap', ioas: Number(m[2]), iova: hx(m[3]!), size: hx(m[4]!), ret: Number(m[5]), nonExist: false };
    case 'iommufd_backend_unmap_dma_non_exist':
      return { kind: 'ioasUnmap', ioas: Number(m[2]), iova: hx(m[3]!), size: hx(m[4]!), ret: Number(m[5]), nonExist: true };
    case 'pci_update_mappings_add':
    case 'pci_update_mappings_del':
      return { kind: 'bar', add: e.event.endsWith('_add'), dev: m[1]!, addr: hx(m[3]!), size: hx(m[4]!) };
    default:
      return null;
  }
}

/**
 * QEMU releases an event name or prefix narrows the trace to (notes: the names' history), as
 * [first, last] (null = open); the import prints what the whole trace allows.
 */
export const VERSION_EVIDENCE: Readonly<Record<string, readonly [string | null, string | null]>> = {
  vfio_listener_region_add_skip: [null, '7.2'],
  vfio_listener_region_del_skip: [null, '7.2'],
  vfio_listener_region_skip: ['8.0', null],
  vfio_dma_unmap_overflow_workaround: ['4.0', '8.1'],
  vfio_legacy_dma_unmap_overflow_workaround: ['8.2', '10.1'],
  iommufd_backend_map_dma: ['8.2', null],
  iommufd_backend_unmap_dma: ['8.2', null],
  iommufd_backend_unmap_dma_non_exist: ['8.2', null],
  iommufd_backend_map_file_dma: ['10.1', null],
  vfio_listener_region_del_iommu: ['9.1', null],
  // the log backend's own PID@/TID@ prefix: always up to 5.2, with -msg timestamp=on up to 10.0; 10.1+ prints ISO-8601
  'prefix:pid@time': [null, '10.0'],
  'prefix:iso8601': ['10.1', null],
};
