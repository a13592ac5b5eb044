// @x/amd-iommu/testing: what test suites (this package's, the core's engine suite) run the driver with.
export { amdv1Cfgs } from './fmt-amdv1.js';
