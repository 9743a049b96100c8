/** Writes that are all or nothing: a temporary file beside the target, then one rename. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { keepOnInterrupt, removeOnInterrupt } from './interrupt';

/**
 * This machine, in temporary file names (8 hex of the host name's sha256): a process id is only
 * worth checking on the machine that wrote it, when the directory is shared.
 */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** `.<name>.<host tag>-<pid>.<12 hex>.tmp` beside `file`: a fresh temporary path for it. */
export function tempBeside(file: string): string {
  return join(dirname(file), `.${basename(file)}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Makes a rename into `dir` durable (fsync of the directory, where the platform allows it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every platform or file system can fsync a directory; the rename is still atomic.
  }
}

export interface AtomicWriteOptions {
  /** Create the file's directory first. */
  mkdir?: boolean;
  /** File mode of the new file. */
  mode?: number;
}

/**
 * Writes `data` to `file` through a temporary file beside it and one rename, so that a reader
 * sees the old file or the whole new one, never part of it. The temporary file is removed when
 * the write fails and when the process is interrupted meanwhile. Throws what the write threw.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  if (opts.mkdir) await mkdir(dirname(file), { recursive: true });
  const tmp = tempBeside(file);
  removeOnInterrupt(tmp);
  try {
    await writeFile(tmp, data, { flag: 'wx', ...(opts.mode !== undefined ? { mode: opts.mode } : {}) });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  } finally {
    keepOnInterrupt(tmp);
  }
}

/** `writeFileAtomic` for what only saves time later (a cache entry): false instead of an error. */
export async function tryWriteFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<boolean> {
  return writeFileAtomic(file, data, opts).then(
    () => true,
    () => false,
  );
}
