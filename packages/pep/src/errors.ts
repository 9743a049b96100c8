/**
 * Base class of every error caused by user input (a bad requirement string,
 * a malformed wheel name, a missing interpreter, ...). The CLI prints only the
 * message of these errors, without a stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
