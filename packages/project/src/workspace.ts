import { access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * Lock file names looked for beside a project's `pyproject.toml`, in this order; above the
 * project only a uv workspace's `uv.lock` governs it.
 */
export const LOCK_FILE_NAMES = ['pylock.toml', 'poetry.lock', 'uv.lock'] as const;

/** Whether anything (a file, a directory, a link to one) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nearest `uv.lock` at or above `dir`, stopping at `stopAt` (the workspace root) when given.
 * Lookups that share `seen` (and the same `stopAt`) look at each directory once.
 */
export function findUvLock(
  dir: string,
  stopAt?: string,
  seen?: Map<string, Promise<string | undefined>>,
): Promise<string | undefined> {
  const stop = stopAt ? resolve(stopAt) : undefined;
  const lookup = (d: string): Promise<string | undefined> => {
    let found = seen?.get(d);
    if (!found) {
      found = (async () => {
        const candidate = join(d, 'uv.lock');
        if (await exists(candidate)) return candidate;
        const parent = dirname(d);
        return d === stop || parent === d ? undefined : lookup(parent);
      })();
      seen?.set(d, found);
    }
    return found;
  };
  return lookup(resolve(dir));
}

/**
 * The lock that governs a project: a `pylock.toml`, `poetry.lock` or `uv.lock` beside its
 * `pyproject.toml` (in that order), else the nearest `uv.lock` in one of its parents, stopping at
 * `stopAt` (the workspace root) when given.
 */
export async function findLockFile(
  projectDir: string,
  stopAt?: string,
  seen?: Map<string, Promise<string | undefined>>,
): Promise<string | undefined> {
  const dir = resolve(projectDir);
  for (const name of LOCK_FILE_NAMES) {
    const candidate = join(dir, name);
    if (await exists(candidate)) return candidate;
  }
  const parent = dirname(dir);
  return dir === (stopAt ? resolve(stopAt) : undefined) || parent === dir ? undefined : findUvLock(parent, stopAt, seen);
}
