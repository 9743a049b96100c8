/**
 * The graph's view of a uv.lock (each project's third-party packages, the workspace edges), kept
 * in a `SummaryCache` by the lock's content hash: an unchanged uv.lock is hashed, not parsed.
 */
import { canonicalizeName } from '@nx-pex/pep';
import { generatedPylockHeader, lockWorkspaceEdges, parseUvLock, projectPackages, type ClosurePackage, type Lockfile, type WorkspaceProjectEdges } from '@nx-pex/lock';
import { fileSha, readCached } from './file-texts';
import type { SummaryCache } from './summary-cache';

/**
 * The third-party packages of a project, as `projectPackages` gives them: from its own
 * pylock.toml when that is the user's (read each time: it is small), else from the uv.lock,
 * remembered by the uv.lock's hash.
 */
export function cachedProjectPackages(
  cache: SummaryCache,
  project: string,
  projectDirAbs: string,
  uvLockAbs: string | undefined,
  usePylock: boolean,
  pylockText: string | null,
): ClosurePackage[] | undefined {
  const ownPylock = usePylock && pylockText !== null && !generatedPylockHeader(pylockText);
  if (ownPylock || !uvLockAbs) return projectPackages(project, projectDirAbs, uvLockAbs, usePylock);
  const sha = fileSha(uvLockAbs);
  if (sha === undefined) return undefined;
  const key = `packages\0${sha}\0${canonicalizeName(project)}`;
  const known = cache.get<ClosurePackage[] | null>(key);
  if (known !== undefined) return known ?? undefined;
  const packages = projectPackages(project, projectDirAbs, uvLockAbs, usePylock);
  cache.set(key, packages ?? null);
  return packages;
}

/** The workspace edges of the uv.lock at `uvLockAbs` (see `lockWorkspaceEdges`), remembered by its hash. */
export function cachedWorkspaceEdges(cache: SummaryCache, uvLockAbs: string): Map<string, WorkspaceProjectEdges> | undefined {
  const sha = fileSha(uvLockAbs);
  if (sha === undefined) return undefined;
  const key = `edges\0${sha}`;
  const known = cache.get<Array<[string, WorkspaceProjectEdges]> | null>(key);
  if (known !== undefined) return known ? new Map(known) : undefined;
  const edges = uvLockEdges(uvLockAbs);
  cache.set(key, edges ? [...edges] : null);
  return edges;
}

const edgesByLock = new WeakMap<Lockfile, Map<string, WorkspaceProjectEdges>>();

/** The workspace edges of the uv.lock at `path`, or undefined when it cannot be read or does not parse. */
export function uvLockEdges(path: string): Map<string, WorkspaceProjectEdges> | undefined {
  const text = readCached(path);
  if (text === undefined) return undefined;
  let lock: Lockfile;
  try {
    lock = parseUvLock(text, path);
  } catch {
    return undefined; // the build reports a broken lock
  }
  let edges = edgesByLock.get(lock);
  if (!edges) {
    edges = lockWorkspaceEdges(lock);
    edgesByLock.set(lock, edges);
  }
  return edges;
}
