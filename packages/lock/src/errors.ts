import { readFile } from 'node:fs/promises';
import { UserError } from '@nx-pex/pep';

/** A lock file that cannot be read, is malformed, or does not hold what a build needs. */
export class LockError extends UserError {
  constructor(
    message: string,
    /** The lock file involved, as given. */
    readonly file?: string,
    /** 1-based line in `file`, when known. */
    readonly line?: number,
    /** 1-based column in `file`, when known. */
    readonly column?: number,
  ) {
    super(message);
  }
}

/** None of a locked package's wheels can be installed on the target platform. */
export class NoWheelForPlatformError extends LockError {
  constructor(
    message: string,
    file: string,
    readonly packageName: string,
    readonly version: string | undefined,
    readonly targetId: string,
    readonly availableWheels: string[],
  ) {
    super(message, file);
  }
}

/** A lock file's text; a missing or unreadable file is a LockError naming it (and, when missing, `howToMake`). */
export async function readLockText(path: string, howToMake = ''): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LockError(`${path}: lock file not found.${howToMake ? ` ${howToMake}` : ''}`, path);
    throw new LockError(`${path}: cannot read lock file: ${(e as Error).message}`, path);
  }
}
