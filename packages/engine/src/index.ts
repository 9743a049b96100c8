/**
 * The build engine: one call per user command. `buildProject` builds the PEX files of a project
 * from its lock; `buildRequirements` builds one PEX from pinned requirements (pex's command line).
 * Option layering (target, `[tool.nx-pex]`, command line), the fetch pipeline and the choice of
 * the pex runtime live here, so that nx-pex works as a library without Nx.
 */
export { buildProject, type BuildProjectOptions, type BuildProjectResult, type BuiltPex } from './build-project';
export { buildRequirements, type BuildRequirementsOptions, type BuildRequirementsResult } from './build-requirements';
export { readRequirementsFile } from './requirements-file';
export { lockRequirements, type LockRequirementsOptions, type LockRequirementsResult } from './lock-requirements';
export {
  PEX_BUILD_OPTION_NAMES,
  checkOptions,
  completePlatformPath,
  mergeOptions,
  writerOptions,
  type InheritPath,
  type LayeredOptions,
  type Layout,
  type PexBuildOptions,
} from './options';
export { applyIndexOverrides, type IndexOverrides } from './index-overrides';
export { createContext, type BuildContext, type BuildContextInit } from './context';
export type { LockSource, TargetSelection } from './lock-source';
export { LOCK_KINDS, lockKindOf, type LockKindModule, type ProjectSourceRequest, type LockedRequirementsRequest } from './sources';
export { pinnedVersion, requiresDist } from './pinned';
export { PROJECT_LOCK_FILE, openProjectLock, projectLockText, type ProjectLock, type ProjectLockRequest } from './project-lock';
export { checkWorkspaceImports, importsWithLines } from './undeclared-imports';
export { shadowedLockMessage } from './shadowed-lock';
export { syncProjectLocks, type PylockDigests, type SyncReport, type WorkspaceFiles } from './sync-locks';
export {
  LockSummaryCache,
  SUMMARY_CACHE_MAX_ENTRIES,
  cachedProjectPackages,
  cachedWorkspaceEdges,
  fileSha,
  governingLock,
  lockedWorkspaceDirs,
  moduleOwners,
  perProjectLockState,
  projectLockFiles,
  pylockNeedsSync,
  readCached,
  textSha,
  uvLockEdges,
  type GoverningLock,
  type LockLookups,
  type PerProjectLockState,
  type ProjectLockFiles,
  type SummaryCache,
} from './workspace-graph';
export { PYTEST_CONFIG_FILES, hasTests } from './test-discovery';
export { pushProject, type PushProjectOptions, type PushedImage } from './push';
export { ociPlatform, writeProjectImage, type ProjectImageOptions } from './image';
export { PROJECT_TEST_LOCK_FILE, openTestLock, projectTestLockText, type TestLock, type TestLockRequest } from './test-lock';
export {
  prepareTestEnvironment,
  testProject,
  testVenvKey,
  type TestEnvironment,
  type TestEnvironmentOptions,
  type TestProjectOptions,
  type TestProjectResult,
} from './test-project';
export { editableProjects, ensureTestOverlay, testOverlayKey, type EditableProject, type OverlayEntry, type TestOverlay, type TestOverlayOptions } from './test-overlay';
export { distInfoMetadataKey } from './first-party';
