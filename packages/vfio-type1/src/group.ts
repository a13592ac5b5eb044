// Models struct vfio_group (drivers/vfio/group.c) for one iommu_group: its devices behind one IOMMU
// driver and the container it is set to (VFIO_GROUP_SET_CONTAINER links the two).

import type { IommuDriver } from '@x/iommu-core';
import type { Container, VfioGroup } from './container.js';

/** An IOMMU group: devices behind one driver (VFIO attaches them together). Host.addGroup() makes one. */
export class Group implements VfioGroup {
  /** The container this group is set to, or null. */
  container: Container | null = null;
  constructor(
    readonly id: number,
    readonly drv: IommuDriver,
    readonly devices: readonly number[],
  ) {}
}
