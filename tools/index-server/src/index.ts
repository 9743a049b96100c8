export { startIndexServer, negotiate, parseFault } from './server';
export type { IndexServer, IndexServerOptions, Fault } from './server';
export { scanDir, readWheelMetadata } from './wheels';
export type { ServedFile } from './wheels';
export { writeFixtureWheel } from './fixtures';
export type { FixtureWheelOptions, FixtureFile } from './fixtures';
