/**
 * Per-project locks: each workspace project's `pylock.toml`, generated from the workspace's
 * uv.lock (or written by the user), and the choice of the lock a build reads.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { canonicalizeName, UserError, type TargetPlatform } from '@nx-pex/pep';
import { exists, findUvLock } from '@nx-pex/project';
import { shadowedLockMessage } from './shadowed-lock';
import {
  generatedPylockHeader,
  isFirstPartySource,
  generatedPylockText,
  isPylockFileName,
  isStandaloneNxPexPylock,
  lockCoversProject,
  lockClosure,
  parsePylock,
  parseUvLock,
  pylockClosure,
  readUvLock,
  type Closure,
  type Lockfile,
} from '@nx-pex/lock';

/** The file name of a project's own lock, next to its pyproject.toml. */
export const PROJECT_LOCK_FILE = 'pylock.toml';

function posixRel(from: string, to: string): string {
  const r = relative(from, to).split(sep).join('/');
  return r === '' ? '.' : r;
}

/**
 * The text nx-pex writes to `<projectDir>/pylock.toml` for `project`, from the uv.lock at
 * `uvLockPath` (already parsed when `lock` is given).
 */
export function projectLockText(lock: Lockfile, project: string, projectDir: string, uvLockPath: string): string {
  const lockDir = dirname(resolve(uvLockPath));
  return generatedPylockText(lock, project, {
    outputDir: posixRel(lockDir, resolve(projectDir)),
    lockDir: '.',
    lockName: uvLockPath.split(/[\\/]/).pop(),
  });
}

export interface ProjectLockRequest {
  projectDir: string;
  /** `[project] name`. */
  project: string;
  /** An explicit lock: a uv.lock, or a PEP 751 file (`pylock.toml`, `pylock.<name>.toml`). */
  lockFile?: string;
  /** Where the uv.lock search stops. */
  workspaceRoot?: string;
  /**
   * true: the project's pylock.toml must exist (the Nx target, whose inputs name it); false: read
   * the uv.lock as before; undefined: the pylock.toml when there is one, else the uv.lock.
   */
  lockPerProject?: boolean;
}

/** The lock a build reads, and how to take the project's closure from it for a target. */
export interface ProjectLock {
  /** The file the build reads its packages from. */
  path: string;
  kind: 'uv' | 'pylock';
  /** The workspace's uv.lock, when one was found (for the other workspace projects). */
  uvLock?: Lockfile;
  /**
   * A pylock.toml nx-pex generated from `uvLock` and found to match it now: the uv.lock's
   * dependency edges hold for it (a PEP 751 lock records none).
   */
  generated?: boolean;
  closure(target: TargetPlatform): Closure;
}

/**
 * Chooses and reads the lock of one project. A generated pylock.toml must match what the
 * uv.lock gives now, else the build stops telling the user to run `nx sync`; a pylock.toml
 * without nx-pex's first line is the user's own lock and is read as it is.
 */
export async function openProjectLock(r: ProjectLockRequest): Promise<ProjectLock> {
  const projectDir = resolve(r.projectDir);
  const ownLock = join(projectDir, PROJECT_LOCK_FILE);
  let pylockPath: string | undefined;
  let uvPath: string | undefined;
  if (r.lockFile) {
    if (isPylockFileName(r.lockFile)) pylockPath = resolve(r.lockFile);
    else uvPath = resolve(r.lockFile);
  } else if (r.lockPerProject !== false && (await exists(ownLock))) {
    pylockPath = ownLock;
  } else if (r.lockPerProject === true) {
    const found = await findUvLock(projectDir, r.workspaceRoot);
    if (found) {
      // A project the uv.lock does not cover gets no pylock.toml from `nx sync`: say what to run first.
      const lock = await readUvLock(found);
      if (!lock.packages.some((p) => p.name === canonicalizeName(r.project) && (lock.workspaceMembers.includes(p.name) || isFirstPartySource(p.source)))) {
        throw new UserError(
          `${found} does not cover the project ${r.project} (${join(projectDir, 'pyproject.toml')}): run \`uv lock\` to add it, then \`nx sync\` to write its pylock.toml.`,
        );
      }
    }
    throw new UserError(
      `${ownLock} does not exist. nx-pex builds ${r.project} from its own lock, which \`nx sync\` writes from the workspace's uv.lock: run \`nx sync\` (and commit the file), ` +
        `or set the plugin option lockPerProject: false to build from the uv.lock directly.`,
    );
  }
  if (!pylockPath) {
    uvPath ??= await findUvLock(projectDir, r.workspaceRoot);
    if (!uvPath) {
      throw new UserError(`No uv.lock found for ${r.project} in ${projectDir} or its parents. Run \`uv lock\` in the uv workspace that holds it.`);
    }
    const lock = await readUvLock(uvPath);
    return { path: uvPath, kind: 'uv', uvLock: lock, closure: (target) => lockClosure(lock, r.project, target) };
  }

  let text: string;
  try {
    text = await readFile(pylockPath, 'utf8');
  } catch (e) {
    throw new UserError(`${pylockPath}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`);
  }
  const header = generatedPylockHeader(text);
  let uvLock: Lockfile | undefined;
  if (header) {
    const source = resolve(dirname(pylockPath), header.source);
    let uvText: string;
    try {
      uvText = await readFile(source, 'utf8');
    } catch {
      throw new UserError(`${pylockPath} was generated from ${source}, which is gone. Run \`nx sync\` to write it again from the workspace's lock.`);
    }
    uvLock = parseUvLock(uvText, source);
    let fresh: string;
    try {
      fresh = projectLockText(uvLock, r.project, dirname(pylockPath), source);
    } catch (e) {
      throw new UserError(`${pylockPath} is out of date and cannot be refreshed: ${(e as Error).message}`);
    }
    if (fresh !== text) {
      throw new UserError(
        `${pylockPath} is out of date: ${source} has changed since it was generated (or it was edited by hand). Run \`nx sync\` to refresh it, and commit it.`,
      );
    }
  } else {
    const found = await findUvLock(projectDir, r.workspaceRoot);
    if (found) {
      try {
        uvLock = await readUvLock(found);
      } catch {
        uvLock = undefined; // the user's own lock is what counts; the uv.lock only names other projects
      }
      // A lock of `nx-pex lock` from before the project joined the uv workspace must not shadow its uv.lock.
      if (!r.lockFile && uvLock && isStandaloneNxPexPylock(text) && lockCoversProject(uvLock, r.project)) {
        throw new UserError(shadowedLockMessage(pylockPath, found, r.project));
      }
    }
  }
  const pylock = parsePylock(text, pylockPath);
  return { path: pylockPath, kind: 'pylock', uvLock, generated: header !== undefined, closure: (target) => pylockClosure(pylock, target, { project: r.project }) };
}
