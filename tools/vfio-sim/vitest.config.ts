import { defineProject } from 'vitest/config';

// globalSetup builds dist (the CLI tests run `node dist/cli.js`, and piscina needs dist/worker.js)
// and installs Debian's chromium for the HTML test when it is missing.
export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
