// The workspace's architecture as dependency rules, checked by `pnpm lint` over packages/*/src and
// tools/*/src. Sibling packages resolve to their built dist (package.json "exports"), which is not
// cruised: each package is checked on its own source, and the edges between packages are the
// package names they import.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle inside a package, type-only imports included: split the shared part into its own module. ' +
        'One exception: a Sim holds the probe points (observe.ts), whose hooks receive an IommuDomain (ops.ts), ' +
        'which holds its Sim: mutually recursive types, joined only by type-only imports (no-circular-runtime ' +
        'still checks those files).',
      from: { pathNot: '^packages/iommu-core/src/(ops|sim|observe|physmem)\\.ts$' },
      to: { circular: true },
    },
    {
      name: 'no-circular-runtime',
      severity: 'error',
      comment: 'A cycle of imports that stay at run time (type-only imports are erased), in any file.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'vfio-type1-not-amd-iommu',
      severity: 'error',
      comment: 'VFIO type1 drives any IommuDriver through @x/iommu-core; it never knows the AMD driver.',
      from: { path: '^packages/vfio-type1/' },
      to: { path: ['^packages/amd-iommu/', '(^|/)@x/amd-iommu(/|$)'] },
    },
    {
      name: 'packages-not-tools',
      severity: 'error',
      comment: 'The libraries are published; tools/ (the CLI, scripts) build on them, never the other way.',
      from: { path: '^packages/' },
      to: { path: ['^tools/', '(^|/)@x/vfio-sim(/|$)'] },
    },
    {
      name: 'workspace-imports-by-name',
      severity: 'error',
      comment: 'A package uses another one by its name (its public exports), never by a relative path into its files.',
      from: { path: '^(packages|tools)/([^/]+)/' },
      to: { path: '^(packages|tools)/', pathNot: '^$1/$2/', dependencyTypes: ['local'] },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      comment: 'Shipped code never imports test helpers or test-only libraries.',
      from: { path: '^(packages|tools)/[^/]+/src/' },
      to: {
        path: [
          '^(packages|tools)/[^/]+/test/',
          'node_modules/(vitest|fast-check|@vitest)/',
          'node_modules/[.]pnpm/(vitest|fast-check|@vitest)',
        ],
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve: a typo, or a dependency missing from package.json.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // type-only imports are dependencies too: a cycle through `import type` is still a cycle
    tsPreCompilationDeps: true,
    doNotFollow: { path: ['node_modules', '^(packages|tools)/[^/]+/dist/'] },
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
