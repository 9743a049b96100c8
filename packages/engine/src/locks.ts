/** Reading lock files: their head (to tell their kind), and PEP 751 locks as Lockfiles. */
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LockError, pylockAsLockfile, type LockedArtifact, type Lockfile, type Pylock } from '@nx-pex/lock';

/** The first 64 KiB of a file, as text (how a lock of an unknown name is recognised). */
export async function head(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new LockError(`Cannot read the lock file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, path);
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** A file a lock gives by path (relative to the lock) is fetched from a file: URL. */
export function withFileUrl(artifact: LockedArtifact, lockFile: string): LockedArtifact {
  if (artifact.url !== undefined || artifact.path === undefined) return artifact;
  return { ...artifact, url: pathToFileURL(resolve(dirname(lockFile), artifact.path)).href };
}

/** A PEP 751 lock as a Lockfile whose local files have file: URLs. */
export function pylockLockfile(pylock: Pylock, path: string): Lockfile {
  const lock = pylockAsLockfile(pylock);
  return { ...lock, packages: lock.packages.map((p) => ({ ...p, wheels: p.wheels.map((w) => withFileUrl(w, path)) })) };
}

