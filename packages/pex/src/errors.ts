import { UserError } from '@nx-pex/pep';

export { UserError };

/** A PEX cannot be built from the given runtime wheel or options. */
export class PexError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'PexError';
  }
}
