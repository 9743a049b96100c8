/**
 * Which reader a lock file takes: by its name (`uv.lock`, `poetry.lock`, `pylock.toml` /
 * `pylock.<name>.toml`, `*.txt`), else by what it holds.
 */
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '@nx-pex/pep';
import { LockError, pylockAsLockfile, readPoetryLock, readPylock, readUvLock, type LockedArtifact, type Lockfile, type Pylock } from '@nx-pex/lock';

export type LockKind = 'uv' | 'poetry' | 'pylock' | 'requirements';

async function head(path: string): Promise<string> {
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

/** The format of a lock file. */
export async function lockKind(path: string): Promise<LockKind> {
  const name = basename(path).toLowerCase();
  if (name === 'uv.lock') return 'uv';
  if (name === 'poetry.lock') return 'poetry';
  if (/^pylock(\.[^.\/]+)?\.toml$/.test(name)) return 'pylock';
  if (/\.(txt|in)$/.test(name)) return 'requirements';
  const text = await head(path);
  if (/^\s*\[\[\s*packages\s*\]\]/m.test(text) && /^\s*lock-version\s*=/m.test(text)) return 'pylock';
  if (/^\s*\[metadata\]/m.test(text) && /^\s*lock-version\s*=/m.test(text)) return 'poetry';
  if (/^\s*version\s*=\s*\d+\s*$/m.test(text) && /^\s*\[\[\s*package\s*\]\]/m.test(text)) return 'uv';
  if (/^\s*\[\[\s*package\s*\]\]/m.test(text) && /^\s*files\s*=/m.test(text)) return 'poetry';
  return 'requirements';
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

/** Reads a uv.lock, poetry.lock or pylock.toml as a Lockfile; a requirements file is read by its own reader. */
export async function readPackageLock(path: string, kind: LockKind): Promise<Lockfile> {
  if (kind === 'uv') return readUvLock(path);
  if (kind === 'poetry') return readPoetryLock(path);
  if (kind === 'pylock') return pylockLockfile(await readPylock(path), path);
  throw new UserError(`${path} is a requirements file, not a package lock.`);
}
