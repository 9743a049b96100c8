/** Every test in the repository; `npm test` runs them all. */
module.exports = {
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
