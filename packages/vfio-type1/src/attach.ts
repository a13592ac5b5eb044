// Models vfio_iommu_type1_attach_group() / detach_group() and vfio_iommu_replay(): one domain per
// IOMMU (groups on the same ops and coherency share it), replay of every existing dma into a domain
// attached later, the iova list from apertures and reserved regions (spec vfio-type1 §6.7, §8).

import {
  ERRNO,
  IOMMU_CACHE,
  IOMMU_CAP_CACHE_COHERENCY,
  IOMMU_CAP_INTR_REMAP,
  IOMMU_RESV_DIRECT_RELAXABLE,
  iommuIovaToPhys,
  iommuMap,
  iommuPgsize,
  iommuUnmap,
  type IommuDomain,
} from '@x/iommu-core';
import { sysErrno } from './errors.js';
import { VfioDomain, type IommuGroup, type IovaNode, type VfioIommu } from './iommu.js';
import { vfioIommuUnmapUnpinAll } from './unmap.js';

function errnoOf(e: unknown): number {
  const errno = sysErrno(e);
  if (errno === null) throw e;
  return errno;
}

/** Detaches whatever devices of g are attached to dom. */
function detachDevices(g: IommuGroup, dom: IommuDomain): void {
  for (const dev of g.devices) g.drv.detachDevice(dom, dev);
}

/** Attaches all of g's devices to dom, or none: returns 0 or -errno. */
function attachDevices(g: IommuGroup, dom: IommuDomain): number {
  let k = 0;
  try {
    for (; k < g.devices.length; k++) g.drv.attachDevice(dom, g.devices[k]!);
    return 0;
  } catch (e) {
    for (let j = 0; j < k; j++) g.drv.detachDevice(dom, g.devices[j]!);
    return errnoOf(e);
  }
}

/** Removes [rs, re] from every node of a list (vfio_iommu_resv_exclude). */
function carve(list: IovaNode[], rs: number, re: number): IovaNode[] {
  const out: IovaNode[] = [];
  for (const n of list) {
    if (re < n.start || rs > n.last) {
      out.push(n);
      continue;
    }
    if (rs > n.start) out.push({ start: n.start, last: rs - 1 });
    if (re < n.last) out.push({ start: re + 1, last: n.last });
  }
  return out;
}

/** Reserved regions that carve the iova list (all but DIRECT_RELAXABLE), over a group's devices. */
function resvOf(g: IommuGroup): { start: number; last: number }[] {
  const out: { start: number; last: number }[] = [];
  for (const dev of g.devices) for (const r of g.drv.resvRegions(dev)) if (r.type !== IOMMU_RESV_DIRECT_RELAXABLE) out.push(r);
  return out;
}

/** The iova list for a set of domains (apertures intersected) and groups (regions carved). */
function buildIovaList(doms: readonly IommuDomain[], groups: readonly IommuGroup[]): IovaNode[] {
  if (doms.length === 0) return [];
  let start = 0,
    last = Infinity;
  for (const d of doms) {
    start = Math.max(start, d.geometry.apertureStart);
    last = Math.min(last, d.geometry.apertureEnd);
  }
  if (start > last) return [];
  let list: IovaNode[] = [{ start, last }];
  for (const g of groups) for (const r of resvOf(g)) list = carve(list, r.start, r.last);
  return list;
}

function allGroups(iommu: VfioIommu): IommuGroup[] {
  const gs: IommuGroup[] = [];
  for (const d of iommu.domains) gs.push(...d.groups);
  return gs;
}

/**
 * vfio_iommu_replay(): maps every existing dma into a new domain, taking the physical runs from the
 * current first domain (no pinning: the pages are pinned already). Returns 0 or -errno; with
 * replayUnwind (4.19y+) a failure first unmaps from the new domain everything replay mapped.
 */
function vfioIommuReplay(iommu: VfioIommu, nd: VfioDomain): number {
  if (iommu.domains.length === 0) return 0;
  const ref = iommu.domains[0]!.dom;
  const l = iommu.dmas.list;
  iommu.stats.replays++;
  for (let k = 0; k < l.length; k++) {
    const dma = l[k]!;
    let iova = dma.iova;
    const end = dma.end;
    while (iova < end) {
      const phys = iommuIovaToPhys(ref, iova);
      if (phys < 0) {
        iommu.stats.warnings++;
        iova++;
        continue;
      }
      let len = 1;
      while (iova + len < end && iommuIovaToPhys(ref, iova + len) === phys + len) len++;
      try {
        iommuMap(nd.dom, iova, phys, len, dma.prot | nd.prot);
      } catch (e) {
        const err = errnoOf(e);
        if (iommu.spec.replayUnwind) for (let j = k; j >= 0; j--) iommuUnmap(nd.dom, l[j]!.iova, l[j]!.size);
        return err;
      }
      iommu.stats.replayedPages += len;
      iova += len;
    }
  }
  return 0;
}

/**
 * vfio_iommu_type1_attach_group(): gives group g a domain (a new one on its driver, or the existing
 * domain with the same ops and coherency), replaying existing mappings into a new domain. Returns 0
 * or -errno (EBUSY vaddr invalid, EINVAL iova conflicts, EPERM no interrupt remapping, the driver's
 * attach errno, or replay's errno) and then leaves the container as it was.
 */
export function vfioIommuType1AttachGroup(iommu: VfioIommu, g: IommuGroup): number {
  if (iommu.vaddrInvalidCount > 0) return -ERRNO.EBUSY;
  const drv = g.drv;
  let dom: IommuDomain;
  try {
    dom = drv.domainAlloc();
  } catch (e) {
    // iommu_domain_alloc() NULL: -EIO; since 6.11 iommu_paging_domain_alloc() returns its ERR_PTR
    const errno = sysErrno(e);
    if (errno === null) throw e;
    return iommu.spec.pagingDomainAlloc ? errno : -ERRNO.EIO;
  }
  let ret = attachDevices(g, dom);
  if (ret !== 0) {
    drv.domainFree(dom);
    return ret;
  }
  const fail = (err: number): number => {
    detachDevices(g, dom);
    drv.domainFree(dom);
    return err;
  };
  let newList: IovaNode[] = [];
  if (iommu.spec.iovaList) {
    const ap = dom.geometry;
    const cur = iommu.iovaList;
    if (cur.length > 0 && (ap.apertureStart > cur[cur.length - 1]!.last || ap.apertureEnd < cur[0]!.start)) return fail(-ERRNO.EINVAL);
    const l = iommu.dmas.list;
    if (l.length > 0 && (l[0]!.iova < ap.apertureStart || l[l.length - 1]!.end - 1 > ap.apertureEnd)) return fail(-ERRNO.EINVAL);
    for (const r of resvOf(g)) if (iommu.dmas.findOverlap(r.start, r.last - r.start + 1) !== null) return fail(-ERRNO.EINVAL);
    newList = buildIovaList([...iommu.domains.map((d) => d.dom), dom], [...allGroups(iommu), g]);
    if (newList.length === 0) return fail(-ERRNO.EINVAL);
  }
  if (!iommu.allowUnsafeInterrupts && !drv.capable(IOMMU_CAP_INTR_REMAP)) return fail(-ERRNO.EPERM);
  const prot = iommu.spec.alwaysCache || drv.capable(IOMMU_CAP_CACHE_COHERENCY) ? IOMMU_CACHE : 0;
  for (const d of iommu.domains) {
    if (d.dom.ops === dom.ops && d.prot === prot) {
      detachDevices(g, dom);
      drv.domainFree(dom);
      ret = attachDevices(g, d.dom);
      if (ret !== 0) return ret;
      d.groups.push(g);
      if (iommu.spec.iovaList) iommu.iovaList = newList;
      return 0;
    }
  }
  const nd = new VfioDomain(dom, drv, prot);
  // vfio_test_domain_fgsp(): the kernel maps two contiguous pages at IOVA 0 and unmaps one; both go
  // iff the domain holds the 8 KiB as one leaf: the core picks an 8 KiB page and the driver keeps it
  // whole (VT-d before v5.15 reported 8 KiB but split it into 4 KiB entries). The probe's own map and
  // unmap are not issued: see Differences from Linux.
  if (iommu.spec.fgspProbe) nd.fgsp = iommuPgsize(dom, 0, 0, 2) === 13 && dom.ops.splitsChunks !== true;
  ret = vfioIommuReplay(iommu, nd);
  if (ret !== 0) return fail(ret);
  nd.groups.push(g);
  iommu.domains.unshift(nd); // new domains go to the head of domain_list
  for (const dma of iommu.dmas.list) dma.iommuMapped = true;
  if (iommu.spec.iovaList) iommu.iovaList = newList;
  return 0;
}

/**
 * vfio_iommu_type1_detach_group(): detaches g; an emptied domain is freed, and when it was the last
 * one every dma is unmapped, unpinned and removed first. The iova list is rebuilt from what remains.
 * beforeFree runs on the last domain after its dmas are gone (the container's leftover check).
 */
export function vfioIommuType1DetachGroup(iommu: VfioIommu, g: IommuGroup, beforeFree: (d: VfioDomain) => void): void {
  const k = iommu.domains.findIndex((d) => d.groups.includes(g));
  if (k < 0) return;
  const d = iommu.domains[k]!;
  detachDevices(g, d.dom);
  d.groups.splice(d.groups.indexOf(g), 1);
  if (d.groups.length === 0) {
    // the last domain takes every dma with it and must then be empty; an earlier one is freed with
    // its mappings (its devices are detached; the dmas stay mapped in the other domains)
    if (iommu.domains.length === 1) {
      vfioIommuUnmapUnpinAll(iommu);
      beforeFree(d);
    }
    iommu.domains.splice(k, 1);
    d.drv.domainFree(d.dom);
  }
  if (iommu.spec.iovaList)
    iommu.iovaList = buildIovaList(
      iommu.domains.map((x) => x.dom),
      allGroups(iommu),
    );
}
