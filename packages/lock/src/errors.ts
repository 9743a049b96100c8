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
