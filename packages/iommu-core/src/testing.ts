// @x/iommu-core/testing: self-tests and fault injection for test suites (this package's, drivers').
export { ptFormatSelfTest } from './pagetable/conformance.js';
export { FaultInjector, FAULT_POINTS, type FaultPoint } from './sim/faults.js';
export { checkTimeline } from './timeline/index.js';
export { ptEngineCases, type PtEngineCase, type PtEngineTarget } from './pagetable/engine-suite.js';
export { ptTestDomain, ptTestDomainFree } from './pt-iommu/test-domain.js';
export { exportedTwice } from './entry-points.js';
