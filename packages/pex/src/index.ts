export { UserError, PexError } from './errors';
export {
  PINNED_PEX,
  loadRuntime,
  parseBootParameters,
  type PexRuntime,
  type RuntimeCacheOptions,
  type RuntimeBootstrap,
  type RuntimeFile,
} from './runtime';
export {
  DEFAULT_PEX_ROOT,
  DEFAULT_SHEBANG,
  depsLayerOptions,
  sourcesLayerOptions,
  writeLayers,
  writePex,
  type InheritPath,
  type PexDependency,
  type PexLayers,
  type PexLayout,
  type VenvBinPath,
  type PexOptions,
  type PexResult,
  type PexSource,
} from './pex';
export { pyCompare, pyJsonDumps, pyReprStr, pyReprTuple } from './python';
export { LAYER_FORMAT, depsLayerKey, dockerfile, dockerignore, isImageReference, type DockerApp, type DockerfileOptions } from './layers';
export { assertInside, checkReplaceable, isInside, isReplaceableOutput, moveIntoPlace, sweepStaleTemps, tempPathFor, untrack } from './output';
export { readWheel, type WheelContents } from './install';
export { installWheelVenv, venvConsoleScript, type VenvFile, type VenvInstallOptions } from './venv-install';
