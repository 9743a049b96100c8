/**
 * Keeping each Python project's `pylock.toml` (its closure from the workspace's uv.lock, which
 * its build reads and Nx hashes) in line with the uv.lock: what `nx-pex:sync` runs on Nx's tree.
 */
import { posix } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { parsePyproject } from '@nx-pex/project';
import { createHash } from 'node:crypto';
import { generatedPylockHeader, generatedPylockKey, isStandaloneNxPexPylock, lockCoversProject, parseUvLock, type Lockfile } from '@nx-pex/lock';
import { PROJECT_LOCK_FILE, projectLockText } from './project-lock';
import { shadowedLockMessage } from './shadowed-lock';
import { PROJECT_TEST_LOCK_FILE, syncTestLock } from './test-lock';

/** What a sync run did, for messages and tests. */
export interface SyncReport {
  written: string[];
  unchanged: string[];
  /** Users' own pylock.toml files, left alone. */
  userOwned: string[];
  /** Projects whose lock could not be written, with the reason (e.g. the uv.lock does not cover them). */
  problems: string[];
  /** Locks of `nx-pex lock` that a uv.lock now also covers, replaced by the generated lock: one message each, naming both files. */
  shadowed: string[];
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
 * Remembered sha256 of each project's generated pylock.toml by `generatedPylockKey` (uv.lock
 * content hash, project, place): a project whose pylock.toml hashes to it is skipped without
 * parsing the uv.lock.
 */
export interface PylockDigests {
  get(key: string): string | null | undefined;
  set(key: string, sha256: string | null): void;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The digest of a project's generated locks: its pylock.toml and its test lock (or none). */
function pairDigest(pylock: string, testLock: string | null): string {
  return testLock === null ? sha256(pylock) : `${sha256(pylock)}+${sha256(testLock)}`;
}

/** One sync run: the files, the digests, the report, and each uv.lock read once (its sha256, its parse or why it failed). */
interface SyncRun {
  files: WorkspaceFiles;
  digests?: PylockDigests;
  report: SyncReport;
  uvLockShas: Map<string, string | undefined>;
  uvLocks: Map<string, Lockfile | Error>;
}

/** A Python project under a uv.lock: its name, its `lock-file` setting, its directory and the uv.lock's path. */
interface LockedProject {
  name: string;
  lockFile: string | undefined;
  dir: string;
  lockPath: string;
}

/**
 * Brings every Python project's `pylock.toml` in line with its uv.lock: only files whose content
 * changes are written; a pylock.toml nx-pex did not generate is the user's own and is left alone.
 */
export function syncProjectLocks(files: WorkspaceFiles, digests?: PylockDigests): SyncReport {
  const report: SyncReport = { written: [], unchanged: [], userOwned: [], problems: [], shadowed: [] };
  const run: SyncRun = { files, digests, report, uvLockShas: new Map(), uvLocks: new Map() };
  for (const file of files.pyprojects().map((f) => f.split('\\').join('/')).sort()) {
    const project = lockedProject(run, file);
    if (project) syncProject(run, project);
  }
  return report;
}

/** The project of a pyproject.toml with a name and a uv.lock above it; a pyproject.toml that does not parse is reported. */
function lockedProject(run: SyncRun, file: string): LockedProject | undefined {
  const text = run.files.read(file);
  if (text === null) return undefined;
  let name: string | undefined;
  let lockFile: string | undefined;
  try {
    const pyproject = parsePyproject(text, file);
    name = pyproject.name;
    lockFile = pyproject.nxPex.lockFile;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    run.report.problems.push(e.message);
    return undefined;
  }
  if (!name) return undefined;
  const dir = posix.dirname(file);
  const lockPath = uvLockAbove(run.files, dir);
  return lockPath ? { name, lockFile, dir, lockPath } : undefined;
}

/** Writes one project's pylock.toml (and its test lock) from its uv.lock, unless the file is the user's or already current. */
function syncProject(run: SyncRun, { name, lockFile, dir, lockPath }: LockedProject): void {
  const { files, digests, report } = run;
  const target = dir === '.' ? PROJECT_LOCK_FILE : `${dir}/${PROJECT_LOCK_FILE}`;
  const current = files.read(target);
  // A pylock.toml the project names as its lock, or one nx-pex did not write, is the user's own.
  const standalone = current !== null && lockFile === undefined && isStandaloneNxPexPylock(current);
  if (current !== null && !generatedPylockHeader(current) && !standalone) {
    report.userOwned.push(target);
    return;
  }
  const outputDir = posix.relative(posix.dirname(lockPath), dir) || '.';
  const uvSha = digests ? uvLockSha(run, lockPath) : undefined;
  const key = uvSha !== undefined ? generatedPylockKey(uvSha, name, outputDir) : undefined;
  // A project whose files are what this uv.lock gave last time is skipped unparsed: the digest
  // covers its pylock.toml and its test lock, since a bump of a test-only package changes only the latter.
  const testTarget = dir === '.' ? PROJECT_TEST_LOCK_FILE : `${dir}/${PROJECT_TEST_LOCK_FILE}`;
  const currentTest = files.read(testTarget);
  if (key !== undefined && current !== null && !standalone && digests!.get(key) === pairDigest(current, currentTest)) {
    report.unchanged.push(target, ...(currentTest !== null ? [testTarget] : []));
    return;
  }
  const lock = uvLock(run, lockPath);
  if (lock instanceof Error) {
    report.problems.push(lock.message);
    return;
  }
  // A lock of `nx-pex lock` for a project the uv.lock does not hold stays its lock.
  if (standalone && !lockCoversProject(lock, name)) {
    report.userOwned.push(target);
    return;
  }
  let next: string;
  try {
    // Paths only matter relative to each other: both are taken from the workspace root.
    next = projectLockText(lock, name, posix.join('/', dir), posix.join('/', lockPath));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    report.problems.push(`${name}: ${e.message}`);
    return;
  }
  if (standalone) report.shadowed.push(shadowedLockMessage(target, lockPath, name));
  // The test lock (pylock.test.toml) beside it: the closure plus the test groups.
  const testText = syncTestLock(files, report, lock, name, dir);
  if (key !== undefined) digests!.set(key, pairDigest(next, testText));
  if (current === next) {
    report.unchanged.push(target);
    return;
  }
  files.write(target, next);
  report.written.push(target);
}

/** The sha256 of a uv.lock's text (undefined when it cannot be read), read once per run. */
function uvLockSha(run: SyncRun, path: string): string | undefined {
  if (!run.uvLockShas.has(path)) {
    const text = run.files.read(path);
    run.uvLockShas.set(path, text === null ? undefined : sha256(text));
  }
  return run.uvLockShas.get(path);
}

/** A uv.lock parsed once per run, or the error it gave. */
function uvLock(run: SyncRun, path: string): Lockfile | Error {
  let lock = run.uvLocks.get(path);
  if (!lock) {
    try {
      lock = parseUvLock(run.files.read(path) ?? '', path);
    } catch (e) {
      lock = e as Error;
    }
    run.uvLocks.set(path, lock);
  }
  return lock;
}
