/**
 * Each project's test lock, `pylock.test.toml`: written by `nx sync` beside its pylock.toml from the
 * workspace's uv.lock when the project has test dependency groups or extras, and read by a test
 * run. Builds never read it, so a bump of a test-only package changes no build input.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tryWriteFileAtomic } from '@nx-pex/fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { canonicalizeName, UserError } from '@nx-pex/pep';
import { exists, findUvLock } from '@nx-pex/project';
import {
  generatedPylockHeader,
  generatedTestPylockText,
  parsePylock,
  parseUvLock,
  projectPylock,
  projectTestPylock,
  readUvLock,
  type Lockfile,
  type Pylock,
} from '@nx-pex/lock';
import { PROJECT_LOCK_FILE, openProjectLock } from './project-lock';
import type { SyncReport, WorkspaceFiles } from './sync-locks';

/** The file name of a project's test lock, next to its pyproject.toml. */
export const PROJECT_TEST_LOCK_FILE = 'pylock.test.toml';

function posixRel(from: string, to: string): string {
  const r = relative(from, to).split(sep).join('/');
  return r === '' ? '.' : r;
}

/** The text nx-pex writes to `<projectDir>/pylock.test.toml`, or undefined when the project has no test group. */
export function projectTestLockText(lock: Lockfile, project: string, projectDir: string, uvLockPath: string): string | undefined {
  const lockDir = dirname(resolve(uvLockPath));
  return generatedTestPylockText(lock, project, {
    outputDir: posixRel(lockDir, resolve(projectDir)),
    lockDir: '.',
    lockName: uvLockPath.split(/[\\/]/).pop(),
  });
}

/**
 * Part of a sync: brings `<dir>/pylock.test.toml` in line with the uv.lock (written, left as it is,
 * or removed when the project has no test group any more); a file nx-pex did not write is left alone.
 */
/**
 * Brings a project's test lock in line with the uv.lock; returns the text the file holds
 * afterwards (null when there is none, or it is the user's own).
 */
export function syncTestLock(files: WorkspaceFiles, report: SyncReport, lock: Lockfile, project: string, dir: string): string | null {
  const target = dir === '.' ? PROJECT_TEST_LOCK_FILE : `${dir}/${PROJECT_TEST_LOCK_FILE}`;
  const current = files.read(target);
  if (current !== null && !generatedPylockHeader(current)) {
    report.userOwned.push(target);
    return null;
  }
  let next: string | undefined;
  try {
    next = projectTestLockText(lock, project, posix.join('/', dir), posix.join('/', lock.path));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    report.problems.push(`${project}: ${e.message}`);
    return current;
  }
  if (next === undefined) {
    if (current !== null && files.delete) {
      files.delete(target);
      report.written.push(target);
    }
    return null;
  }
  if (current === next) {
    report.unchanged.push(target);
    return current;
  }
  files.write(target, next);
  report.written.push(target);
  return next;
}

export interface TestLock {
  /** The file the packages come from (for a uv.lock read directly: where its test lock would be). */
  path: string;
  pylock: Pylock;
  /** The dependency groups and extras a test environment installs. */
  groups: string[];
  extras: string[];
  /** The workspace's uv.lock, when one was found. */
  uvLock?: Lockfile;
}

export interface TestLockRequest {
  projectDir: string;
  project: string;
  workspaceRoot?: string;
  /** As for builds: true, the generated locks must exist; false, the uv.lock is read directly. */
  lockPerProject?: boolean;
  /** The store, where a passed check of a generated test lock against its uv.lock is recorded. */
  storeDir?: string;
}

/**
 * Checks that a generated test lock is what its uv.lock gives now; the parsed uv.lock, or
 * undefined when the store recorded this very check before (the same test lock, uv.lock, project
 * and directory), which spares parsing the whole uv.lock on every run.
 */
async function checkTestLock(testPath: string, text: string, source: string, r: TestLockRequest): Promise<Lockfile | undefined> {
  let uvText: string;
  try {
    uvText = await readFile(source, 'utf8');
  } catch {
    throw new UserError(`${testPath} was generated from ${source}, which is gone. Run \`nx sync\` to write it again from the workspace's lock.`);
  }
  const digest = (t: string) => createHash('sha256').update(t).digest('hex');
  // Bump the label when the generated text of a test lock changes.
  const key = digest(JSON.stringify(['nx-pex test lock check 1', r.project, testPath, source, digest(uvText), digest(text)]));
  const record = r.storeDir ? join(r.storeDir, 'lock-checks', key) : undefined;
  if (record && (await exists(record))) return undefined;
  const uvLock = parseUvLock(uvText, source);
  if (projectTestLockText(uvLock, r.project, dirname(testPath), source) !== text) {
    throw new UserError(`${testPath} is out of date: ${source} has changed since it was generated (or it was edited by hand). Run \`nx sync\` to refresh it, and commit it.`);
  }
  // Only a check that passed is recorded; a store that cannot be written to just checks again.
  if (record) await tryWriteFileAtomic(record, '', { mkdir: true });
  return uvLock;
}

/**
 * The lock a test run reads: the project's pylock.test.toml (checked against the uv.lock it was
 * generated from), else its pylock.toml when the uv.lock gives it no test group, or (with
 * lockPerProject false) the project's test closure taken from the uv.lock directly.
 */
export async function openTestLock(r: TestLockRequest): Promise<TestLock> {
  const projectDir = resolve(r.projectDir);
  const testPath = join(projectDir, PROJECT_TEST_LOCK_FILE);
  const fromUvLock = async (uvPath: string, lock: Lockfile): Promise<TestLock> => {
    const o = { outputDir: posixRel(dirname(resolve(uvPath)), projectDir), lockDir: '.' };
    const pylock = projectTestPylock(lock, r.project, o) ?? projectPylock(lock, r.project, o);
    return { path: testPath, pylock: { ...pylock, path: testPath }, groups: pylock.defaultGroups, extras: pylock.extras, uvLock: lock };
  };
  if (r.lockPerProject !== false && (await exists(testPath))) {
    const text = await readFile(testPath, 'utf8');
    const header = generatedPylockHeader(text);
    const uvLock = header ? await checkTestLock(testPath, text, resolve(projectDir, header.source), r) : undefined;
    const pylock = parsePylock(text, testPath);
    return { path: testPath, pylock, groups: pylock.defaultGroups, extras: pylock.extras, uvLock };
  }
  if (r.lockPerProject === false) {
    const uvPath = await findUvLock(projectDir, r.workspaceRoot);
    if (uvPath) return fromUvLock(uvPath, await readUvLock(uvPath));
  }
  // No test lock: the project's build lock (a user's own pylock.toml, or one nx sync wrote because
  // the uv.lock gives the project no test group).
  const own = await openProjectLock({ projectDir, project: r.project, workspaceRoot: r.workspaceRoot, lockPerProject: r.lockPerProject });
  if (own.kind === 'uv') return fromUvLock(own.path, own.uvLock!);
  if (own.uvLock && projectTestPylock(own.uvLock, r.project, { outputDir: '.', lockDir: '.' })) {
    throw new UserError(`${testPath} does not exist, but ${own.uvLock.path} gives ${r.project} test dependencies. Run \`nx sync\` to write it, and commit it.`);
  }
  const pylock = parsePylock(await readFile(own.path, 'utf8'), own.path);
  return { path: own.path, pylock, groups: pylock.defaultGroups, extras: [], uvLock: own.uvLock };
}

/** The message for a test lock without pytest in it. */
export function noPytestMessage(lock: TestLock, project: string, pyprojectFile: string): string {
  const generated = lock.path.endsWith(PROJECT_TEST_LOCK_FILE) || lock.path.endsWith(PROJECT_LOCK_FILE);
  return (
    `${lock.path} has no pytest for ${canonicalizeName(project)}, so its tests cannot run from its lock. ` +
    `Add pytest to a test dependency group of ${pyprojectFile} ([dependency-groups] test = ["pytest"], or \`uv add --group test pytest\`)` +
    (generated ? ', then run `uv lock` and `nx sync`.' : ', then lock it again.')
  );
}
