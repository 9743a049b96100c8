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
 * its parents, stopping at `stopAt` (the workspace root) when given. Lookups that share `seen`
 * (and the same `stopAt`) look at each directory once.
 */
export function findLockFile(
  projectDir: string,
  stopAt?: string,
  seen?: Map<string, Promise<string | undefined>>,
): Promise<string | undefined> {
  const stop = stopAt ? resolve(stopAt) : undefined;
  const lookup = (dir: string): Promise<string | undefined> => {
    let found = seen?.get(dir);
    if (!found) {
      found = (async () => {
        for (const name of LOCK_FILE_NAMES) {
          const candidate = join(dir, name);
          if (await exists(candidate)) return candidate;
        }
        const parent = dirname(dir);
        return dir === stop || parent === dir ? undefined : lookup(parent);
      })();
      seen?.set(dir, found);
    }
    return found;
  };
  return lookup(resolve(projectDir));
}
