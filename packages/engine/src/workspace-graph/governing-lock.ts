/**
 * Which lock governs a Python project's build, as the build chooses it, and what that lock says
 * about the other workspace projects the project needs. The Nx graph takes its workspace edges
 * from here, so that every project whose PEX holds a member depends on it.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { canonicalizeName } from '@nx-pex/pep';
import { findLockFile, findUvLock, parsePyproject, type PyProject } from '@nx-pex/project';
import { generatedPylockHeader, isPylockFileName, parsePylock, type WorkspaceProjectEdges } from '@nx-pex/lock';
import { readCached } from './file-texts';
import { cachedWorkspaceEdges } from './summaries';
import type { SummaryCache } from './summary-cache';

export type GoverningLock =
  /** The workspace's uv.lock (through the generated pylock.toml, or read directly). */
  | { kind: 'uv'; lock: string; edges: Map<string, WorkspaceProjectEdges> }
  /** A PEP 751 lock that is the project's own (the user's, or `nx-pex lock`'s): its `directory` entries are first-party. */
  | { kind: 'pylock'; lock: string; directories: string[] }
  /** A poetry.lock or a hashed requirements file. */
  | { kind: 'own'; lock: string }
  /** No lock, or one that does not cover the project yet (run `uv lock`): the declared dependencies stand in. */
  | { kind: 'none' };

/** Lock lookups shared by the projects below one directory (directory → the lock found there or above). */
export type LockLookups = Map<string, Promise<string | undefined>>;

const pylockDirs = new Map<string, { text: string; dirs: string[] }>();

/** The source trees a PEP 751 lock names (`[packages.directory]`), as absolute paths; [] when it does not parse. */
function pylockDirectories(path: string, text: string): string[] {
  const known = pylockDirs.get(path);
  if (known?.text === text) return known.dirs;
  let dirs: string[] = [];
  try {
    dirs = parsePylock(text, path).packages.flatMap((p) => (p.directory ? [resolve(dirname(path), p.directory.path)] : []));
  } catch {
    dirs = [];
  }
  pylockDirs.set(path, { text, dirs });
  return dirs;
}

/**
 * The lock a project builds from: `[tool.nx-pex] lock-file`, else its own pylock.toml (one
 * nx-pex did not generate), poetry.lock or the uv.lock beside it, else the nearest uv.lock above
 * it. A uv.lock that does not cover the project governs nothing yet.
 */
export async function governingLock(
  pyproject: PyProject,
  workspaceRoot: string,
  lockPerProject: boolean,
  lookups: LockLookups,
  cache: SummaryCache,
): Promise<GoverningLock> {
  const dir = pyproject.dir;
  const override = pyproject.nxPex.lockFile;
  let found: string | undefined;
  if (override) found = resolve(dir, override);
  else {
    found = await findLockFile(dir, workspaceRoot, lookups);
    if (found && basename(found) === 'pylock.toml') {
      const text = readCached(found);
      if (text !== undefined && lockPerProject && !generatedPylockHeader(text)) return { kind: 'pylock', lock: found, directories: pylockDirectories(found, text) };
      found = await findUvLock(dir, workspaceRoot, lookups);
    }
  }
  if (!found) return { kind: 'none' };
  const name = basename(found);
  if (override && isPylockFileName(name)) {
    const text = readCached(found);
    return text === undefined ? { kind: 'none' } : { kind: 'pylock', lock: found, directories: pylockDirectories(found, text) };
  }
  if (name !== 'uv.lock') return { kind: 'own', lock: found };
  const edges = cachedWorkspaceEdges(cache, found);
  const self = edges?.get(canonicalizeName(pyproject.name ?? ''));
  if (!edges || !self || (self.path !== undefined && resolve(dirname(found), self.path) !== resolve(dir))) return { kind: 'none' };
  return { kind: 'uv', lock: found, edges };
}

/** The absolute directories of the workspace projects `project` needs, by the lock that governs it. */
export function lockedWorkspaceDirs(governing: GoverningLock, project: PyProject): string[] | undefined {
  if (governing.kind === 'pylock') return governing.directories.filter((d) => d !== resolve(project.dir));
  if (governing.kind !== 'uv') return undefined;
  const lockDir = dirname(governing.lock);
  const out: string[] = [];
  for (const need of governing.edges.get(canonicalizeName(project.name ?? ''))?.needs ?? []) {
    const path = governing.edges.get(need)?.path;
    if (path !== undefined) out.push(join(lockDir, path));
  }
  return out;
}

/** The lock files a project's build follows, found without reading any lock. */
export interface ProjectLockFiles {
  /** `[tool.nx-pex] lock-file`, as written. */
  override?: string;
  /** A poetry.lock or hashed requirements file: the project's lock as it is (absolute). */
  ownLock?: string;
  /** The lock whose changes reach the build: that own lock, else the nearest uv.lock (absolute). */
  lock?: string;
}

/**
 * The lock files of the project whose pyproject.toml is `pyprojectText` (at `pyprojectPath`, named
 * so in errors): `[tool.nx-pex] lock-file`, or what discovery finds beside it or above it. A
 * poetry.lock or a hashed requirements file is the project's lock as it is; otherwise the
 * workspace's uv.lock governs (through the project's pylock.toml, which `nx sync` keeps).
 */
export async function projectLockFiles(pyprojectText: string, pyprojectPath: string, projectDir: string, workspaceRoot: string, lookups: LockLookups): Promise<ProjectLockFiles> {
  // Parsed only when it may name a lock: most pyproject.toml files do not.
  const override = pyprojectText.includes('lock-file') ? parsePyproject(pyprojectText, pyprojectPath).nxPex.lockFile : undefined;
  const found = override ? join(projectDir, override) : await findLockFile(projectDir, workspaceRoot, lookups);
  const foundName = found ? basename(found) : '';
  const ownLock = foundName === 'poetry.lock' || /\.(txt|in)$/.test(foundName) ? found : undefined;
  const lock = ownLock ?? (foundName === 'uv.lock' ? found : await findUvLock(projectDir, workspaceRoot, lookups));
  return { ...(override ? { override } : {}), ...(ownLock ? { ownLock } : {}), ...(lock ? { lock } : {}) };
}
