// Models vfio_pin_map_dma(), vfio_iommu_map() and map_try_harder() (drivers/vfio/vfio_iommu_type1.c,
// E-4.12..4.19y and mainline): pin a contiguous chunk, map it into every domain in list order, unwind
// the earlier domains on failure; on -EBUSY retry the chunk page by page (spec vfio-type1 §5).

import { ERRNO, iommuMap, iommuTlbRangeAdd, iommuTlbSync, iommuUnmap, iommuUnmapFast } from '@x/iommu-core';
import type { VfioDma } from './dma.js';
import { sysErrno } from './errors.js';
import type { VfioDomain, VfioIommu } from './iommu.js';
import { vfioPinPagesRemote, vfioUnpinPagesRemote } from './pin.js';
import { vfioRemoveDma } from './unmap.js';

/** iommu_map() returning 0 or -errno instead of throwing. */
function tryMap(d: VfioDomain, iova: number, pfn: number, npage: number, prot: number): number {
  try {
    iommuMap(d.dom, iova, pfn, npage, prot | d.prot);
    return 0;
  } catch (e) {
    const errno = sysErrno(e);
    if (errno === null) throw e;
    return errno;
  }
}

/**
 * map_try_harder(): maps the chunk one page at a time. Returns 0 or the first failing errno, after
 * the variant's unwind:
 *  - 'landed': iommu_unmap of pages i, i-1, ..., 1 (the failed page i is a no-op and page 0 stays mapped),
 *  - 'rfc-v2': the same pages with iommu_unmap_fast + range_add, one sync only if the last unmap returned pages,
 *  - 'suggested': pages i-1 .. 0 with iommu_unmap_fast (a zero return only warns), one sync when i < npage.
 */
function mapTryHarder(iommu: VfioIommu, d: VfioDomain, iova: number, pfn: number, npage: number, prot: number): number {
  iommu.stats.tryHarderEntries++;
  let i = 0,
    ret = 0;
  for (; i < npage; i++) {
    ret = tryMap(d, iova + i, pfn + i, 1, prot);
    if (ret !== 0) break;
  }
  iommu.stats.tryHarderPages += i;
  const dom = d.dom;
  switch (iommu.tryHarder) {
    case 'landed':
      for (let k = i; k < npage && k > 0; k--) iommuUnmap(dom, iova + k, 1);
      break;
    case 'rfc-v2': {
      let unmapped = 0;
      for (let k = i; k < npage && k > 0; k--) {
        unmapped = iommuUnmapFast(dom, iova + k, 1);
        if (unmapped !== 0) iommuTlbRangeAdd(dom, iova + k, unmapped);
      }
      if (unmapped !== 0) iommuTlbSync(dom);
      break;
    }
    case 'suggested':
      if (i < npage) {
        for (let k = i - 1; k >= 0; k--) {
          const u = iommuUnmapFast(dom, iova + k, 1);
          if (u === 0)
            iommu.stats.warnings++; // WARN_ON(!unmapped), keep going
          else iommuTlbRangeAdd(dom, iova + k, u);
        }
        iommuTlbSync(dom);
      }
      break;
    default:
      break;
  }
  return ret;
}

/**
 * vfio_iommu_map(): maps npage pages at iova -> pfn into every domain, in list order. On a failure in
 * domain k the domains before it are unmapped (reverse order) and the errno is returned; -EBUSY first
 * tries map_try_harder in eras that have it, and if that fails too the ORIGINAL -EBUSY is returned.
 */
function vfioIommuMap(iommu: VfioIommu, iova: number, pfn: number, npage: number, prot: number): number {
  const doms = iommu.domains;
  for (let k = 0; k < doms.length; k++) {
    const d = doms[k]!;
    const ret = tryMap(d, iova, pfn, npage, prot);
    if (ret === 0) continue;
    if (ret === -ERRNO.EBUSY && iommu.tryHarder !== null && mapTryHarder(iommu, d, iova, pfn, npage, prot) === 0) continue;
    for (let j = k - 1; j >= 0; j--) iommuUnmap(doms[j]!.dom, iova, npage);
    return ret;
  }
  return 0;
}

/**
 * vfio_pin_map_dma(): pins and maps npage pages of a freshly linked (zero-sized) dma chunk by chunk.
 * Returns 0, or -errno after vfio_remove_dma() undid everything (pins, locked_vm, mappings, dma_avail).
 */
export function vfioPinMapDma(iommu: VfioIommu, dma: VfioDma, npage: number): number {
  // model hook: bracket the whole MAP_DMA so a failed one also frees the tables its successful
  // chunks allocated (Linux leaves them; the model's rule is that a failed call leaves no trace)
  const doms = iommu.domains.slice();
  for (const d of doms) d.dom.model?.mapBegin(d.dom);
  const run = iommu.mapRun;
  let remaining = npage,
    ret = 0;
  while (remaining > 0) {
    const n = vfioPinPagesRemote(iommu, dma, dma.size, remaining, run);
    if (n <= 0) {
      ret = n;
      break;
    }
    const pfn = run.pfn,
      order = run.folioOrder;
    ret = vfioIommuMap(iommu, dma.iova + dma.size, pfn, n, dma.prot);
    if (ret !== 0) {
      vfioUnpinPagesRemote(iommu, dma, pfn, n, true, order);
      break;
    }
    iommu.stats.mapChunks++;
    remaining -= n;
    dma.size += n;
  }
  dma.iommuMapped = true;
  if (ret !== 0) vfioRemoveDma(iommu, dma);
  for (const d of doms) d.dom.model?.mapEnd(d.dom, ret !== 0);
  return ret;
}
