const { availableParallelism } = require('node:os');

/** Every test in the repository; `npm test` runs them all. */
module.exports = {
  // Most suites wait on child processes (nx, pex, python, servers) more than they compute: two at a
  // time even on two cores (jest's default there is one), which keeps CI under 15 minutes.
  maxWorkers: Math.max(2, availableParallelism()),
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/plugins', '<rootDir>/tools'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleNameMapper: {
    '^@nx-pex/(fs|pep|interpreter|project|index|store|lock|resolver|pex|image|engine|cli)$': '<rootDir>/packages/$1/src/index.ts',
    // Test-only helpers, by name rather than by relative path.
    '^@nx-pex/testkit$': '<rootDir>/tools/testkit/src/index.ts',
    '^@nx-pex/index-server$': '<rootDir>/tools/index-server/src/index.ts',
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/packages/[^/]+/dist/', '<rootDir>/plugins/[^/]+/dist/', '<rootDir>/.cache/'],
  testTimeout: 30000,
};
