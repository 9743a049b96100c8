export { main, run } from './main';
export { parseBuildArgs, PEX_FLAGS, UNSUPPORTED_PEX_FLAGS, SPECS, buildHelp, type BuildArgs } from './build-args';
export { cliPexOptions } from './build';
