import { UserError } from '@nx-pex/pep';

export { UserError };

/** An image cannot be read, written or pushed as asked. */
export class ImageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}
