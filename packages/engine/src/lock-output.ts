/**
 * Where `nx-pex lock` writes its pylock.toml, as safely as a build writes its PEX: never into a
 * directory, never over a file it did not write (a README, a user's own lock) unless asked to
 * replace a user's lock explicitly, through a temporary file beside the output that is renamed
 * into place and removed on failure, SIGINT or SIGTERM (and swept after a SIGKILL).
 */
import { lstat, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { isNxPexPylock } from '@nx-pex/lock';
import { sweepStaleTemps, tempPathFor, untrack } from '@nx-pex/pex';

/** How much of an existing file is read to tell whether it is a lock nx-pex wrote. */
const HEAD_BYTES = 64 * 1024;

async function head(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Whether the text looks like a PEP 751 lock (a `lock-version` key at the top level). */
function looksLikePylock(text: string): boolean {
  return /^lock-version\s*=/m.test(text);
}

export interface LockOutputOptions {
  /** Replace a pylock.toml nx-pex did not write (`nx-pex lock --replace-user-lock`). */
  replaceUserLock?: boolean;
}

/**
 * Throws a UserError unless `outputFile` may be written by `nx-pex lock`: it does not exist, or it
 * is a regular file holding a lock nx-pex wrote (or, with `replaceUserLock`, any PEP 751 lock).
 */
export async function checkLockOutput(outputFile: string, o: LockOutputOptions = {}): Promise<void> {
  const st = await lstat(outputFile).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    if (e.code === 'ENOTDIR') throw new UserError(`Cannot write the lock to ${outputFile}: a part of that path is a file, not a directory. Give -o a path in a directory.`);
    throw new UserError(`Cannot write the lock to ${outputFile}: ${e.message}.`);
  });
  if (!st) return;
  if (st.isDirectory()) {
    throw new UserError(`Refusing to write the lock to ${outputFile}: it is a directory. Give -o a file path, e.g. ${outputFile.replace(/\/+$/, '')}/pylock.toml.`);
  }
  if (!st.isFile()) {
    throw new UserError(`Refusing to write the lock to ${outputFile}: it exists and is not a regular file (${st.isSymbolicLink() ? 'a symlink' : 'a special file'}). Remove it, or give -o another path.`);
  }
  const text = await head(outputFile).catch((e: Error) => {
    throw new UserError(`Cannot read ${outputFile} to check that nx-pex wrote it: ${e.message}.`);
  });
  if (isNxPexPylock(text)) return;
  if (!looksLikePylock(text)) {
    throw new UserError(`Refusing to replace ${outputFile}: it exists and is not a lock nx-pex wrote. Give -o a new path (a pylock.toml), or move the file.`);
  }
  if (o.replaceUserLock) return;
  throw new UserError(
    `Refusing to replace ${outputFile}: it is a lock nx-pex did not write (its first line is not nx-pex's header), so it is yours. ` +
      'Run `nx-pex lock --replace-user-lock` to replace it with a resolved one, or give -o another path.',
  );
}

/** Writes `text` to `outputFile` (checked again just before) by a rename from a temporary file beside it. */
export async function writeLockOutput(outputFile: string, text: string, o: LockOutputOptions = {}): Promise<void> {
  const dir = dirname(outputFile);
  await mkdir(dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`Cannot create ${dir} for the lock: ${e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a part of that path is a file, not a directory' : e.message}.`);
  });
  await checkLockOutput(outputFile, o);
  await sweepStaleTemps(dir);
  const tmp = tempPathFor(dir, outputFile);
  try {
    await writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
    await rename(tmp, outputFile);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    if (err instanceof UserError) throw err;
    throw new UserError(`Cannot write the lock ${basename(outputFile)} in ${dir}: ${err.message}.`);
  } finally {
    untrack(tmp);
  }
}
