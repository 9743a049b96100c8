/**
 * `nx-pex:sync`: writes each Python project's `pylock.toml` from the workspace's uv.lock, the
 * lock its build reads and hashes. Registered on the build targets (`syncGenerators`), so
 * `nx build` / `nx affected` bring the files up to date and `nx sync:check` fails when one is
 * stale. Only files whose content changes are written; a pylock.toml nx-pex did not generate is
 * the user's own and is left alone.
 */
import { posix } from 'node:path';
import { glob, readNxJson, type Tree } from '@nx/devkit';
import { UserError } from '@nx-pex/pep';
import { parsePyproject } from '@nx-pex/project';
import { generatedPylockHeader, parseUvLock, type Lockfile } from '@nx-pex/lock';
import { PROJECT_LOCK_FILE, projectLockText } from '@nx-pex/engine';

/** What a sync run did, for messages and tests. */
export interface SyncReport {
  written: string[];
  unchanged: string[];
  /** Users' own pylock.toml files, left alone. */
  userOwned: string[];
  /** Projects whose lock could not be written, with the reason (e.g. the uv.lock does not cover them). */
  problems: string[];
}

function pluginOptions(tree: Tree): Record<string, unknown> | undefined {
  const nxJson = readNxJson(tree);
  for (const p of nxJson?.plugins ?? []) {
    const name = typeof p === 'string' ? p : p.plugin;
    if (name === 'nx-pex') return typeof p === 'string' ? {} : ((p.options as Record<string, unknown>) ?? {});
  }
  return undefined;
}

/** The nearest uv.lock at or above `dir` (workspace-relative posix paths). */
function findUvLock(tree: Tree, dir: string): string | undefined {
  let d = dir;
  for (;;) {
    const candidate = d === '.' ? 'uv.lock' : `${d}/uv.lock`;
    if (tree.exists(candidate)) return candidate;
    if (d === '.' || d === '') return undefined;
    d = posix.dirname(d);
  }
}

/** Brings every Python project's pylock.toml in line with its uv.lock, in `tree`. */
export function syncProjectLocks(tree: Tree): SyncReport {
  const report: SyncReport = { written: [], unchanged: [], userOwned: [], problems: [] };
  const options = pluginOptions(tree);
  if (options && options.lockPerProject === false) return report;
  const locks = new Map<string, Lockfile | Error>();
  const files = glob(tree, ['**/pyproject.toml']).map((f) => f.split('\\').join('/')).sort();
  for (const file of files) {
    const text = tree.read(file, 'utf-8');
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
    const lockPath = findUvLock(tree, dir);
    if (!lockPath) continue;
    const target = dir === '.' ? PROJECT_LOCK_FILE : `${dir}/${PROJECT_LOCK_FILE}`;
    const current = tree.read(target, 'utf-8');
    if (current !== null && !generatedPylockHeader(current)) {
      report.userOwned.push(target);
      continue;
    }
    let lock = locks.get(lockPath);
    if (!lock) {
      try {
        lock = parseUvLock(tree.read(lockPath, 'utf-8') ?? '', lockPath);
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
      // Paths only matter relative to each other: both are taken from the tree's root.
      next = projectLockText(lock, name, posix.join('/', dir), posix.join('/', lockPath));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      report.problems.push(`${name}: ${e.message}`);
      continue;
    }
    if (current === next) {
      report.unchanged.push(target);
      continue;
    }
    tree.write(target, next);
    report.written.push(target);
  }
  return report;
}

/**
 * The sync generator. Projects it cannot write a lock for (a pyproject.toml that does not parse, a
 * project the uv.lock does not cover) are left to their build, which fails with the precise
 * message; they never make the whole workspace out of sync.
 */
export default async function syncGenerator(tree: Tree) {
  const report = syncProjectLocks(tree);
  if (report.written.length === 0) return {};
  return {
    outOfSyncMessage: `The per-project pylock.toml files of nx-pex do not match the uv.lock: run \`nx sync\` and commit them.`,
    outOfSyncDetails: report.written.map((f) => `${f} is out of date with its uv.lock`),
  };
}
