/**
 * Replace any `user:password@` in a URL by `***@`. Works on strings that are
 * not valid URLs too (it never throws), so it is safe in error paths.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*@)/, (_m, scheme: string) => `${scheme}***@`);
}

/** Replace every URL with credentials inside free text (e.g. an undici error message). */
export function redactText(text: string): string {
  // A scheme starts only where a run of scheme characters starts (the leftmost match would
  // anyway): without the look-behind, a long run of letters costs quadratic time.
  return text.replace(/(?<![a-zA-Z0-9+.-])([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#\s]*@/g, (_m, scheme: string) => `${scheme}***@`);
}

/** Split a URL into the URL without userinfo and its decoded credentials (if any). */
export function splitCredentials(url: string): { url: string; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.username && !u.password) return { url };
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.toString(), username, password };
}
