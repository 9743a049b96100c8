import { access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** Lock file names nx-pex reads, in the order they are looked for in one directory. */
export const LOCK_FILE_NAMES = ['uv.lock'] as const;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The lock that governs a project: the nearest lock file in the project's directory or one of
 * its parents, stopping at `stopAt` (the workspace root) when given.
 */
export async function findLockFile(projectDir: string, stopAt?: string): Promise<string | undefined> {
  let dir = resolve(projectDir);
  const stop = stopAt ? resolve(stopAt) : undefined;
  for (;;) {
    for (const name of LOCK_FILE_NAMES) {
      const candidate = join(dir, name);
      if (await exists(candidate)) return candidate;
    }
    if (dir === stop) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
