// The uapi structs the CLI drives, encoded by @x/vfio-type1 (struct vfio_iommu_type1_dma_map, 32
// bytes; struct vfio_iommu_type1_dma_unmap, 24 bytes; little-endian as the kernel reads them).

export {
  encodeDmaMap,
  encodeDmaUnmap,
  decodeDmaUnmap,
  DMA_MAP_MINSZ as DMA_MAP_SIZE,
  DMA_UNMAP_MINSZ as DMA_UNMAP_SIZE,
} from '@x/vfio-type1';

export const hex = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
