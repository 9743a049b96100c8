import { UserError } from '@nx-pex/pep';

/** Wrong words on the command line: exit status 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
