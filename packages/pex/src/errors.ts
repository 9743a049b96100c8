/**
 * Errors caused by the user's input (a bad wheel, a bad option, a path that cannot be written).
 * The CLI prints only `message` for these; anything else is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  readonly userError = true;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A PEX cannot be built from the given runtime wheel or options. */
export class PexError extends UserError {}
