/**
 * Which reader a lock file takes: by its name (`uv.lock`, `poetry.lock`, `pylock.toml` /
 * `pylock.<name>.toml`, `*.txt`), else by what it holds.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { LockError, readPoetryLock, readUvLock, type Lockfile } from '@nx-pex/lock';

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

/** Reads a uv.lock or poetry.lock; other kinds are read by their own readers. */
export async function readPackageLock(path: string, kind: LockKind): Promise<Lockfile> {
  if (kind === 'uv') return readUvLock(path);
  if (kind === 'poetry') return readPoetryLock(path);
  if (kind === 'pylock') {
    throw new UserError(`${path} is a PEP 751 pylock.toml, which this build of nx-pex cannot read: use the uv.lock or poetry.lock it was exported from (--lock / [tool.nx-pex] lock-file).`);
  }
  throw new UserError(`${path} is a requirements file, not a package lock.`);
}
