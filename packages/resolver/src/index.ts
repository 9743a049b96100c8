/**
 * Resolution of requirements that no lock pins: PEP 508 requirements (and pex's other forms: wheel
 * files, sdists, local project directories) against the configured indexes and find-links, for one
 * target, with pip's backtracking algorithm and its version preferences.
 */
export { resolve, parseRoot, localRequirement, ResolutionImpossible } from './resolve';
export type { ResolveOptions, Resolution, ResolvedPackage, ClaimedMetadata } from './resolve';
export { IndexSource, allowedFormats, requiresPythonHolds, ForeignSdistError, newestWheelVersion, foreignSdistMessage } from './source';
export type { FormatControl, BuiltWheel, WheelBuilder, VersionEntry, MetadataOrigin } from './source';
export { parseCoreMetadata } from './metadata';
export type { CoreMetadata } from './metadata';
export { readWheelMetadata } from './wheel-metadata';
export { sdistBuilder, pipIndexEnv, keepInCopy, SdistBuildError, foreignBuildReason, sweepStaleBuildDirs, buildTimeoutFromEnv, DEFAULT_BUILD_TIMEOUT_MS } from './sdist';
export type { SdistBuilderOptions } from './sdist';
export type { UniversalOptions } from './universal';
export { backendMetadata, BackendError } from './backend';
export type { BackendMetadata, BackendMetadataOptions } from './backend';
