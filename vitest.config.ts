import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // Starts DynamoDB Local and s3rver once per run and creates the stack's tables and bucket.
    globalSetup: ['test/support/global-setup.ts'],
    // Points the SDK clients of each test worker at those servers before any test imports code.
    setupFiles: ['test/support/test-environment.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
