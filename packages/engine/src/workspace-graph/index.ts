/**
 * What a workspace's locks say about its Python projects, without Nx: which lock governs each
 * project, which workspace projects and third-party packages it needs, and whether its generated
 * pylock.toml is current. Every summary of a uv.lock is kept by the lock's content hash (in memory
 * and in a `LockSummaryCache` file), so a graph recomputation parses only what changed.
 */
export { readCached, textSha, fileSha } from './file-texts';
export { LockSummaryCache, SUMMARY_CACHE_MAX_ENTRIES, type SummaryCache } from './summary-cache';
export { cachedProjectPackages, cachedWorkspaceEdges, uvLockEdges } from './summaries';
export { governingLock, lockedWorkspaceDirs, projectLockFiles, type GoverningLock, type LockLookups, type ProjectLockFiles } from './governing-lock';
export { perProjectLockState, pylockNeedsSync, type PerProjectLockState } from './lock-state';
export { moduleOwners } from './module-owners';
