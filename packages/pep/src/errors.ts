/**
 * Replaces the user information (`user:password@`, a token) of every URL in `text` by `***@`.
 * Used on every message shown to a user, since messages quote user files (a TOML error quotes
 * the lines around it) and those may hold URLs with credentials.
 */
export function maskCredentials(text: string): string {
  return text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#\s"'<>]*@/g, (_m, scheme: string) => `${scheme}***@`);
}

/**
 * Base class of every error caused by user input (a bad requirement string,
 * a malformed wheel name, a missing interpreter, ...). The CLI prints only the
 * message of these errors, without a stack trace. Credentials in URLs are
 * masked in the message, whatever it quotes.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(maskCredentials(message));
    this.name = new.target.name;
  }
}
