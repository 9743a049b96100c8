/**
 * Keeping each Python project's `pylock.toml` (its closure from the workspace's uv.lock, which
 * its build reads and Nx hashes) in line with the uv.lock: what `nx-pex:sync` runs on Nx's tree.
 */
import { posix } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { parsePyproject } from '@nx-pex/project';
import { generatedPylockHeader, parseUvLock, type Lockfile } from '@nx-pex/lock';
import { PROJECT_LOCK_FILE, projectLockText } from './project-lock';
import { syncTestLock } from './test-lock';

/** What a sync run did, for messages and tests. */
export interface SyncReport {
  written: string[];
  unchanged: string[];
  /** Users' own pylock.toml files, left alone. */
  userOwned: string[];
  /** Projects whose lock could not be written, with the reason (e.g. the uv.lock does not cover them). */
  problems: string[];
}

/** The files a sync reads and writes, by workspace-relative posix path (an Nx Tree, or the disk). */
export interface WorkspaceFiles {
  read(path: string): string | null;
  write(path: string, text: string): void;
  exists(path: string): boolean;
  /** Every `pyproject.toml` of the workspace. */
  pyprojects(): string[];
  /** Removes a file (a generated test lock whose project no longer has test groups). */
  delete?(path: string): void;
}

/** The nearest uv.lock at or above `dir` (workspace-relative posix paths). */
function uvLockAbove(files: WorkspaceFiles, dir: string): string | undefined {
  let d = dir;
  for (;;) {
    const candidate = d === '.' ? 'uv.lock' : `${d}/uv.lock`;
    if (files.exists(candidate)) return candidate;
    if (d === '.' || d === '') return undefined;
    d = posix.dirname(d);
  }
}

/**
 * Brings every Python project's `pylock.toml` in line with its uv.lock: only files whose content
 * changes are written; a pylock.toml nx-pex did not generate is the user's own and is left alone.
 */
export function syncProjectLocks(files: WorkspaceFiles): SyncReport {
  const report: SyncReport = { written: [], unchanged: [], userOwned: [], problems: [] };
  const locks = new Map<string, Lockfile | Error>();
  for (const file of files.pyprojects().map((f) => f.split('\\').join('/')).sort()) {
    const text = files.read(file);
    if (text === null) continue;
    let name: string | undefined;
    try {
      name = parsePyproject(text, file).name;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      report.problems.push(e.message);
      continue;
    }
    if (!name) continue;
    const dir = posix.dirname(file);
    const lockPath = uvLockAbove(files, dir);
    if (!lockPath) continue;
    const target = dir === '.' ? PROJECT_LOCK_FILE : `${dir}/${PROJECT_LOCK_FILE}`;
    const current = files.read(target);
    if (current !== null && !generatedPylockHeader(current)) {
      report.userOwned.push(target);
      continue;
    }
    let lock = locks.get(lockPath);
    if (!lock) {
      try {
        lock = parseUvLock(files.read(lockPath) ?? '', lockPath);
      } catch (e) {
        lock = e as Error;
      }
      locks.set(lockPath, lock);
    }
    if (lock instanceof Error) {
      report.problems.push(lock.message);
      continue;
    }
    let next: string;
    try {
      // Paths only matter relative to each other: both are taken from the workspace root.
      next = projectLockText(lock, name, posix.join('/', dir), posix.join('/', lockPath));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      report.problems.push(`${name}: ${e.message}`);
      continue;
    }
    // The test lock (pylock.test.toml) beside it: the closure plus the test groups.
    syncTestLock(files, report, lock, name, dir);
    if (current === next) {
      report.unchanged.push(target);
      continue;
    }
    files.write(target, next);
    report.written.push(target);
  }
  return report;
}

