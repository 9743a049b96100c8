/**
 * HTTP caching of index pages (RFC 9111, as a private cache): what a response's `Cache-Control`
 * allows to keep, for how long it may be used without asking the server, and the validators
 * (`ETag`, `Last-Modified`) that revalidate it afterwards. Where responses are kept is the
 * caller's (the store keeps them on disk); this module only decides.
 */

/** A response to a GET, as kept: the decoded body and what is needed to reuse and revalidate it. */
export interface CachedResponse {
  /** The URL asked for, without credentials. */
  url: string;
  /** The Accept header it was asked with (part of the key: one URL serves JSON and HTML). */
  accept: string;
  /**
   * Who asked: undefined for a request without credentials, else a sha256 over the origin and
   * the credentials sent (never the credentials). Part of the key: a page one set of credentials
   * was shown is never answered to a run with other credentials or none.
   */
  scope?: string;
  /** Where the body came from after redirects, without credentials (relative links resolve against it). */
  finalUrl: string;
  contentType: string;
  etag?: string;
  lastModified?: string;
  /** The response's `Cache-Control` and `Expires` (a 304 without them keeps them). */
  cacheControl?: string;
  expires?: string;
  /** When the response arrived (ms since the epoch). */
  storedAt: number;
  /** Until when it may be used without asking the server (ms since the epoch); at or before `storedAt`: always revalidate. */
  freshUntil: number;
  body: Buffer;
}

/** Where responses are kept between runs. A damaged or unreadable entry is answered as missing. */
export interface HttpCache {
  get(url: string, accept: string, scope?: string): Promise<CachedResponse | undefined>;
  /** Keeps a response; may finish in the background (see `flush`). */
  put(response: CachedResponse): Promise<void>;
  delete(url: string, accept: string, scope?: string): Promise<void>;
  /** Waits for responses still being written (the client's `close()` calls it). */
  flush?(): Promise<void>;
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `Cache-Control` directives, lower-case names; a directive without a value maps to ''. */
export function parseCacheControl(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!value) return out;
  // Split on commas outside quoted strings (`no-cache="set-cookie, foo"`).
  for (const part of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const m = /^\s*([^=\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s]*)))?\s*$/.exec(part);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    if (!out.has(name)) out.set(name, m[2] ?? m[3] ?? '');
  }
  return out;
}

/** An HTTP-date (RFC 9110 5.6.7), or NaN for anything else (`Expires: 0` is not a date). */
function httpDate(v: string | undefined): number {
  return v !== undefined && /^[A-Za-z]{3},? .*\d{2}:\d{2}:\d{2}/.test(v.trim()) ? Date.parse(v) : Number.NaN;
}

function seconds(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** How a response may be kept: not at all (`no-store`), or until `freshUntil` before asking again. */
export type CachePolicy = { store: false } | { store: true; freshUntil: number };

/**
 * What the response's headers allow a private cache: `no-store` keeps nothing; `no-cache` keeps it
 * but revalidates every use; `max-age` (else `Expires` − `Date`), less the `Age` it already had,
 * is how long it is used without a request. Without either, it is revalidated every time (pip does
 * so for every index page). A response with neither freshness nor a validator is not worth keeping.
 */
export function cachePolicy(headers: Headers, now: number): CachePolicy {
  const cc = parseCacheControl(header(headers, 'cache-control'));
  if (cc.has('no-store')) return { store: false };
  const validator = header(headers, 'etag') !== undefined || header(headers, 'last-modified') !== undefined;
  let lifetimeS: number | undefined;
  if (cc.has('no-cache')) lifetimeS = 0;
  else if (cc.has('max-age')) lifetimeS = seconds(cc.get('max-age')) ?? 0;
  else {
    const expires = header(headers, 'expires');
    if (expires !== undefined) {
      const at = httpDate(expires);
      const date = httpDate(header(headers, 'date'));
      // An invalid Expires (e.g. "0") means already expired.
      lifetimeS = Number.isNaN(at) ? 0 : Math.max(0, (at - (Number.isNaN(date) ? now : date)) / 1000);
    }
  }
  const age = seconds(header(headers, 'age')?.trim()) ?? 0;
  const freshMs = Math.max(0, ((lifetimeS ?? 0) - age) * 1000);
  if (freshMs === 0 && !validator) return { store: false };
  return { store: true, freshUntil: now + freshMs };
}

/** The request headers that revalidate a kept response. */
export function revalidationHeaders(cached: CachedResponse): Record<string, string> {
  const out: Record<string, string> = {};
  if (cached.etag !== undefined) out['if-none-match'] = cached.etag;
  if (cached.lastModified !== undefined) out['if-modified-since'] = cached.lastModified;
  return out;
}

/** A kept response after a 304: the same body, with the freshness and validators the 304 carries. */
export function refreshed(cached: CachedResponse, headers: Headers, now: number): CachedResponse | undefined {
  // RFC 9111 4.3.4: the 304's headers replace the stored ones; absent ones are kept.
  const merged: Headers = {
    'cache-control': header(headers, 'cache-control') ?? cached.cacheControl,
    expires: header(headers, 'expires') ?? cached.expires,
    date: header(headers, 'date'),
    age: header(headers, 'age'),
    etag: header(headers, 'etag') ?? cached.etag,
    'last-modified': header(headers, 'last-modified') ?? cached.lastModified,
  };
  const policy = cachePolicy(merged, now);
  if (!policy.store) return undefined;
  return { ...cached, ...cacheHeaders(merged), storedAt: now, freshUntil: policy.freshUntil };
}

/** The headers a kept response carries along (validators, and what its freshness came from). */
export function cacheHeaders(headers: Headers): Pick<CachedResponse, 'etag' | 'lastModified' | 'cacheControl' | 'expires'> {
  const out: Pick<CachedResponse, 'etag' | 'lastModified' | 'cacheControl' | 'expires'> = {};
  const etag = header(headers, 'etag');
  const lastModified = header(headers, 'last-modified');
  const cacheControl = header(headers, 'cache-control');
  const expires = header(headers, 'expires');
  if (etag !== undefined) out.etag = etag;
  if (lastModified !== undefined) out.lastModified = lastModified;
  if (cacheControl !== undefined) out.cacheControl = cacheControl;
  if (expires !== undefined) out.expires = expires;
  return out;
}
