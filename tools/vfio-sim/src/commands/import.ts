// vfio-sim import TRACE [-o FILE]: turns a QEMU -trace log of the VFIO memory listener (or of the
// iommufd backend) into a replay file: the ioctls QEMU issued, the process's memory inferred from
// the host addresses, and a complete header, so `vfio-sim replay FILE` runs it as it is. What the
// trace does not say (backing, read-only, BARs, the kernel) is assumed and said on stderr.

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isReleaseName, releaseError } from '@x/iommu-core';
import { UsageError } from '../errors.js';
import { REPLAY_FORMAT, REPLAY_VERSION, type HeaderLine } from '../engine/record.js';
import { DMA_MAP_SIZE, DMA_UNMAP_SIZE, hex } from '../engine/uapi.js';
import type { MachineSpec } from '../engine/machine.js';
import { MAP_EVENTS } from '../import/qemu-trace.js';
import { readListenerTrace, type ListenerTrace, type TraceMap } from '../import/listener.js';
import { blockOf, inferBlocks, type HostBlock } from '../import/ram-blocks.js';
import { checkBacking, defaultScenario, type Profile } from '../scenario/scenario.js';
import { fmtSize } from '../scenario/size.js';
import { checkOutputs, writeOutput } from './outfile.js';

const SZ_2M = 1n << 21n,
  SZ_1G = 1n << 30n,
  HOST_MAX = 1n << 44n;
/** VFIO_DMA_MAP_FLAG_READ, _WRITE. */
const READ = 1,
  WRITE = 2;

export interface ImportOpts {
  output?: string;
  backing?: string;
  profile?: string;
}

/** The replay file's lines and the assumptions to print, from a trace's text. */
function importTrace(text: string, file: string, opts: ImportOpts = {}): { lines: string[]; notes: string[]; summary: string } {
  const backing = checkBacking(opts.backing ?? defaultScenario().host.backing);
  const profile = (opts.profile ?? defaultScenario().profile) as Profile;
  const t = readListenerTrace(text, file);
  if (t.counts.maps + t.counts.unmaps === 0) {
    // a device behind a vIOMMU: its maps are notifications without a host address
    if (t.counts.viommu > 0)
      throw new UsageError(
        'import',
        `${file} has only vIOMMU events (${t.counts.viommu}: vfio_iommu_map_notify, IOMMU regions), which give no host address to replay: nothing to import`,
      );
    throw new UsageError(
      'import',
      `${file} has no VFIO map or unmap event (${MAP_EVENTS.join(', ')}): trace QEMU with -trace 'vfio_listener_region*' (or -trace 'iommufd_backend*')`,
    );
  }
  const maps = t.ops.filter((o): o is TraceMap => o.kind === 'map');
  const blocks = inferBlocks(maps, backing === 'hugetlb-1g' ? SZ_1G : SZ_2M);
  const ram = blocks.filter((b) => !b.mmio).reduce((a, b) => a + b.size, 0n);
  const hostMemory = ((ram + (4n << 30n) + SZ_2M - 1n) / SZ_2M) * SZ_2M;
  if (hostMemory > HOST_MAX)
    throw new UsageError('import', `${file} maps ${fmtSize(ram)} of host RAM; with 4 GiB more that is beyond the 16 TiB this tool models`);
  const peak = t.peakRam;
  const d = defaultScenario();
  const machine: MachineSpec = {
    hostMemory: String(hostMemory),
    seed: d.seed,
    backing,
    cost: {},
    driver: 'amd',
    profile,
    iotlbEntries: d.iommu.iotlbEntries,
    superpages: true,
    groups: 1,
    devices: 1,
    // libvirt's rule for VFIO guests (RLIMIT_MEMLOCK = guest RAM + 1 GiB), on the most the trace has mapped
    memlockLimit: String(peak + SZ_1G),
    capIpcLock: false,
    container: {
      tlbSyncMax: d.vfio.tlbSyncMax,
      unmapPath: d.vfio.unmapPath,
      disableHugepages: d.vfio.disableHugepages,
      dmaEntryLimit: d.vfio.dmaEntryLimit,
    },
  };
  const header: HeaderLine = { op: 'header', format: REPLAY_FORMAT, version: REPLAY_VERSION, label: profile, machine, scenario: null };
  const qemu = qemuRange(t);
  const name = basename(file);
  const out = [
    `# vfio-sim import of ${name}: ${t.backend === 'legacy' ? 'legacy VFIO container (vfio_listener_region_add_ram, vfio_listener_region_del)' : 'iommufd backend (iommufd_backend_map_dma, iommufd_backend_unmap_dma)'}: ${t.counts.maps} MAP_DMA and ${t.counts.unmaps} UNMAP_DMA${qemu === '' ? '' : `; QEMU ${qemu}`}`,
    JSON.stringify(header),
  ];
  for (const b of blocks) {
    // named by where the trace had it (an iommufd file mapping without an address: by its fd)
    const at = b.host >= 1n << 48n ? `fd ${(b.host >> 48n) - 1n} offset ${hex(b.host & ((1n << 48n) - 1n))}` : `host ${hex(b.host)}`;
    out.push(JSON.stringify({ op: 'mmap', name: at, size: hex(b.size), backing: b.mmio ? 'mmio' : backing, vaddr: hex(b.vaddr) }));
  }
  out.push(JSON.stringify({ op: 'phase', name: 'trace' }));
  const vaddrOf = (m: TraceMap): bigint => {
    const b = blockOf(blocks, m.host);
    return b.vaddr + (m.host - b.host);
  };
  const unmapLine = (iova: bigint, size: bigint, sizeOut: bigint): string =>
    JSON.stringify({
      op: 'ioctl',
      cmd: 'VFIO_IOMMU_UNMAP_DMA',
      arg: { argsz: DMA_UNMAP_SIZE, flags: 0, iova: hex(iova), size: hex(size) },
      ret: 0,
      sizeOut: hex(sizeOut),
    });
  for (const o of t.ops) {
    if (o.kind === 'map') {
      // a legacy trace has no read-only bit: READ|WRITE; iommufd's says it
      const flags = t.backend === 'iommufd' && o.readonly ? READ : READ | WRITE;
      out.push(
        JSON.stringify({
          op: 'ioctl',
          cmd: 'VFIO_IOMMU_MAP_DMA',
          arg: { argsz: DMA_MAP_SIZE, flags, vaddr: hex(vaddrOf(o)), iova: hex(o.iova), size: hex(o.size) },
          ret: 0,
        }),
      );
    } else out.push(unmapLine(o.iova, o.size, o.sizeOut));
  }
  if (t.left.length > 0) {
    out.push(
      `# the trace ends with ${count(t.left.length, 'mapping')} in place: the kernel removes ${t.left.length === 1 ? 'it' : 'them'} when QEMU's container fd closes; one UNMAP_DMA each here`,
    );
    out.push(JSON.stringify({ op: 'phase', name: 'shutdown' }));
    for (const m of t.left) out.push(unmapLine(m.iova, m.size, m.size));
  }
  return {
    lines: out,
    notes: notes(t, name, blocks, {
      backing,
      byFlag: opts.backing !== undefined,
      profile,
      profileByFlag: opts.profile !== undefined,
      ram,
      hostMemory,
      peak,
      qemu,
    }),
    summary: `${blocks.length} mmap, ${t.counts.maps} MAP_DMA, ${t.counts.unmaps + t.left.length} UNMAP_DMA`,
  };
}

/** `8.0 or later`, `7.2 or earlier`, `8.2 to 10.1`, or '' when the trace says nothing about its release. */
function qemuRange(t: ListenerTrace): string {
  const { first, last, because } = t.versions;
  const range =
    first !== null && last !== null
      ? first === last
        ? first
        : `${first} to ${last}`
      : first !== null
        ? `${first} or later`
        : last !== null
          ? `${last} or earlier`
          : '';
  return range === '' ? '' : `${range} (${because.join(', ')})`;
}

interface NoteCtx {
  backing: string;
  byFlag: boolean;
  profile: string;
  profileByFlag: boolean;
  ram: bigint;
  hostMemory: bigint;
  peak: bigint;
  qemu: string;
}

/** `1 line`, `2 lines`. */
const count = (n: number, what: string, many = `${what}s`): string => `${n} ${n === 1 ? what : many}`;

/** One line per thing the import read or had to assume (README "Importing a QEMU trace"). */
function notes(t: ListenerTrace, name: string, blocks: readonly HostBlock[], c: NoteCtx): string[] {
  const n = t.counts;
  const legacy = t.backend === 'legacy';
  const prefixes = [...t.prefixes].filter((p) => p !== 'none');
  const out = [
    `trace: ${name}: ${count(n.lines, 'line')}: ${count(n.maps + n.unmaps, 'map/unmap event')} used (${legacy ? 'legacy VFIO container' : 'iommufd backend'}), ${count(n.skipped, 'skipped section')}, ` +
      `${count(n.notes + n.otherEvents, 'other trace event')}, ${count(n.unrelated, 'line')} that ${n.unrelated === 1 ? 'is' : 'are'} no trace event${prefixes.length > 0 ? `; prefix: ${prefixes.join(', ')}` : ''}${c.qemu === '' ? '' : `; QEMU ${c.qemu}`}`,
  ];
  if (legacy)
    out.push(
      'read-only: a legacy trace does not say which sections are read-only: every MAP_DMA is READ|WRITE (QEMU maps ROMs and read-only PAM pieces READ only)',
    );
  else {
    out.push(
      `iommufd: IOAS maps and unmaps replayed as type1 MAP_DMA and UNMAP_DMA (an IOAS unmap of several mappings as one UNMAP_DMA each); read-only from the trace` +
        `${n.failed > 0 ? `; ${count(n.failed, 'call')} that failed in the trace left out` : ''}${n.nonExist > 0 ? `; ${count(n.nonExist, 'unmap')} of nothing (non_exist) left out` : ''}`,
    );
    if (n.fileMaps > 0)
      out.push(
        `iommufd file mappings: ${count(n.fileMaps, 'map')} without a region_add [ram] line before ${n.fileMaps === 1 ? 'it' : 'them'} to give the host address: host blocks by fd and offset`,
      );
  }
  const mmio = blocks.filter((b) => b.mmio).length,
    ramBlocks = blocks.length - mmio;
  out.push(
    n.barMaps > 0
      ? `device BARs: ${count(n.barMaps, 'section')} inside vfio-pci BARs (pci_update_mappings_add) ${n.barMaps === 1 ? 'is' : 'are'} device MMIO (${count(mmio, 'host block')}, backing mmio: not pinned)`
      : `device BARs: the trace does not tell a device BAR (ram_device) from RAM: ${blocks.length === 1 ? 'the host block is' : `all ${blocks.length} host blocks are`} RAM and pinned (trace pci_update_mappings_* as well to map vfio-pci BARs as MMIO)`,
  );
  out.push(
    `backing: ${c.backing} for ${ramBlocks === 1 ? 'the RAM block' : `the ${ramBlocks} RAM blocks`} (${c.byFlag ? '--backing' : "the trace does not say how QEMU's RAM was backed; --backing to choose"})`,
  );
  out.push(
    `host memory: ${fmtSize(c.hostMemory)} = ${count(ramBlocks, 'RAM block')} of ${fmtSize(c.ram)} + 4 GiB, rounded up to 2 MiB; RLIMIT_MEMLOCK ${fmtSize(c.peak + (1n << 30n))} (most RAM mapped at once + 1 GiB)`,
  );
  out.push(
    `release: ${c.profile} (${c.profileByFlag ? '--profile' : 'the trace does not say which kernel ran; --profile to choose, or replay with --profile v4.16,v4.17,mainline'})`,
  );
  if (t.left.length > 0)
    out.push(
      `teardown: ${count(t.left.length, 'mapping')} still in place when the trace ends: unmapped at the end (phase shutdown), one UNMAP_DMA each, as the kernel's release of the container removes them`,
    );
  if (n.noDmaMap > 0)
    out.push(
      `no_dma_map: ${count(n.noDmaMap, 'line')} of sections QEMU did not map (a device BAR not aligned to the IOMMU page): no ioctl`,
    );
  if (n.viommu > 0)
    out.push(
      `vIOMMU: ${count(n.viommu, 'event')} (IOMMU regions, iommu MAP/UNMAP notifications) not imported: the trace has no host address for them`,
    );
  return out;
}

export function importCommand(trace: string, opts: ImportOpts): number {
  if (opts.output !== undefined && resolve(opts.output) === resolve(trace))
    throw new UsageError('--output', `${opts.output} is the trace being read; give the replay file another name`);
  checkOutputs({ '--output': opts.output });
  if (opts.profile !== undefined && !isReleaseName(opts.profile)) throw new UsageError('--profile', releaseError(opts.profile));
  if (opts.backing !== undefined) checkBacking(opts.backing);
  let text: string;
  try {
    text = readFileSync(trace, 'utf8');
  } catch (e) {
    throw new UsageError('import', `cannot read ${trace}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const r = importTrace(text, trace, opts);
  const data = `${r.lines.join('\n')}\n`;
  for (const n of r.notes) process.stderr.write(`import: ${n}\n`);
  if (opts.output === undefined) process.stdout.write(data);
  else {
    writeOutput('--output', opts.output, data);
    process.stdout.write(
      `import: wrote ${opts.output}: ${r.summary} (replay: vfio-sim replay ${opts.output} --profile v4.16,v4.17,mainline)\n`,
    );
  }
  return 0;
}
