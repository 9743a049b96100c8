export { UserError, PexError } from './errors';
export {
  PINNED_PEX,
  KNOWN_BOOT_PARAMETERS,
  loadRuntime,
  parseBootParameters,
  type PexRuntime,
  type RuntimeBootstrap,
  type RuntimeFile,
} from './runtime';
export {
  DEFAULT_PEX_ROOT,
  DEFAULT_SHEBANG,
  normalizeInterpreterConstraint,
  renderBootCall,
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
export { installWheelChroot, readWheel, type EntryPoint, type InstalledChroot, type WheelContents } from './install';
