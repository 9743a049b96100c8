export { LockError, NoWheelForPlatformError } from './errors';
export type { LockFormat, LockedArtifact, LockedSource, LockedDependency, LockedPackage, ConflictItem, Lockfile } from './types';
export { sourceKey, isFirstPartySource } from './source';
export { UV_LOCK_VERSION, parseUvLock, readUvLock } from './uv';
export type { Closure, ClosureEntry } from './closure';
export { lockClosure, selectWheels, rootRequirements, bindExtras } from './closure';
export { requirementsClosure } from './requirements';
export type {
  Pylock,
  PylockPackage,
  PylockDependency,
  PylockDirectory,
  PylockVcs,
  PylockArchive,
  PylockSelectOptions,
} from './pylock';
export {
  PYLOCK_VERSION,
  parsePylock,
  readPylock,
  formatPylock,
  pylockClosure,
  pylockAsLockfile,
  pylockPackageToLocked,
  evaluateLockMarker,
  isPylockFileName,
} from './pylock';
export type { UniversalEntry, ProjectPylockOptions, GeneratedPylockHeader } from './pylock-export';
export {
  universalClosure,
  projectPylock,
  generatedPylockText,
  generatedPylockHeader,
  generatedPylockBodyHash,
  isNxPexPylock,
  LOCK_COMMAND_HEADER,
  isStandaloneNxPexPylock,
  generatedPylockKey,
  lockCoversProject,
} from './pylock-export';
export type { ReadRequirementsOptions, RequirementLine, RequirementsFile } from './requirements-file';
export { readRequirementsFileLock, isHashedLock, pinOf } from './requirements-file';
export { POETRY_LOCK_VERSIONS, PYPI_SIMPLE, parsePoetryLock, readPoetryLock, poetryGroupRequirements } from './poetry';
export { projectPackages, type ClosurePackage } from './project-packages';
export type { PexLock, PexLockStyle, PexLockArtifact, PexLockedRequirement, PexLockedResolve, PexLockSelectOptions } from './pex-lock';
export { parsePexLock, readPexLock, looksLikePexLock, pexLockClosure, pexLockAsLockfile } from './pex-lock';
export { lockWorkspaceEdges, type WorkspaceProjectEdges } from './workspace-edges';
export type { ClosureStart } from './pylock-export';
export { TEST_GROUPS, TEST_EXTRAS, testSelection, projectTestPylock, generatedTestPylockText, type TestSelection } from './test-lock';
