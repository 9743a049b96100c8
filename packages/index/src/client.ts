import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import type { Dispatcher } from 'undici';
import { IndexConfig } from './config';
import { HashMismatchError, IndexError, IndexResponseError, IndexUnreachableError, TruncatedDownloadError } from './errors';
import { DistributionFile, isArchiveFilename, parseHtmlPage, parseJsonPage } from './pages';
import { canonicalizeName, isWheelFilename, parseWheelFilename } from '@nx-pex/pep';
import { redactText, redactUrl, splitCredentials } from './redact';
import { Netrc, netrcCredentials, netrcPath, readNetrc } from './netrc';
import { uvIndexEnvPrefix } from './uv';
import { cacheHeaders, cachePolicy, refreshed, revalidationHeaders, type CachedResponse, type HttpCache } from './http-cache';

export interface IndexClientOptions {
  userAgent?: string;
  /**
   * Parallel connections per host (default 16): what bounds the metadata and pages a resolution
   * fetches ahead of itself, and parallel downloads; further requests wait for a free connection.
   */
  connectionsPerHost?: number;
  /** Time allowed for response headers and between body chunks (default 60 s). */
  timeoutMs?: number;
  /** Extra attempts after a connection error or 5xx answer (default 3). */
  retries?: number;
  /** First backoff delay; doubles on every retry (default 500 ms). */
  retryDelayMs?: number;
  /** Longest wait a `Retry-After` header may ask for (default 60 s). */
  maxRetryAfterMs?: number;
  /**
   * Environment for proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), named
   * index credentials (`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`) and `NETRC`
   * (default: process.env).
   */
  env?: NodeJS.ProcessEnv;
  /** Home directory holding `.netrc` (default: $HOME). */
  home?: string;
  /**
   * Where index pages (and metadata files without a hash) are kept between runs, reused as their
   * `Cache-Control` allows and revalidated with `ETag` / `Last-Modified` (default: none).
   */
  httpCache?: HttpCache;
  /** The clock the cache's freshness is judged by (default: Date.now). */
  now?: () => number;
}

/** The most an index page (PEP 503 HTML, PEP 691 JSON, a find-links page) may hold, decompressed. */
export const MAX_PAGE_BYTES = 50 * 1024 * 1024;
/** The most a core metadata file (PEP 658 `.metadata`, a wheel's METADATA) may hold, decompressed. */
export const MAX_METADATA_BYTES = 10 * 1024 * 1024;

function megabytes(n: number): string {
  return `${Math.round(n / (1024 * 1024))} MB`;
}

/** The error for a body over `limit` bytes (`what`: "an index page", "a metadata file"). */
function tooLarge(url: string, what: string, limit: number): IndexError {
  return new IndexError(`${redactUrl(url)} is larger than ${megabytes(limit)}, the limit for ${what} (counted after decompression); nx-pex stopped reading it. Check the index: it may be misconfigured or hostile.`);
}

/**
 * A response body read into memory and decoded (`Content-Encoding`), at most `limit` bytes before
 * and after decoding: a body or a decompression bomb over the limit is an IndexError naming the
 * URL and the limit, never an exhausted heap.
 */
async function readBounded(body: Dispatcher.ResponseData['body'], encoding: string, url: string, what: string, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw tooLarge(url, what, limit);
    }
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks, size);
  const opts = { maxOutputLength: limit };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(raw, opts);
    if (encoding === 'deflate') return zlib.inflateSync(raw, opts);
    if (encoding === 'br') return zlib.brotliDecompressSync(raw, opts);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(url, what, limit);
    throw new IndexError(`${redactUrl(url)} sent a body that does not decode as ${encoding}: ${(e as Error).message}`);
  }
  return raw;
}

/** A body fetched into memory (decoded), where it came from and its type. */
interface Page {
  body: Buffer;
  contentType: string;
  finalUrl: string;
}

/** Progress of one download: called with each received chunk's size. */
export type DownloadProgress = (deltaBytes: number, totalBytes: number | undefined) => void;

export interface DownloadOptions {
  sha256?: string;
  size?: number;
  onProgress?: DownloadProgress;
}

const SIMPLE_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** An HTTP answer that may succeed when asked again (5xx, 429). */
class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    /** What the server's Retry-After header asked for, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}`);
  }
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 10.2.3), in ms from now. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function retryableStatus(res: Fetched): Promise<RetryableStatus> {
  await res.body.dump();
  return new RetryableStatus(res.status, parseRetryAfter(res.headers['retry-after']));
}

type Undici = typeof import('undici');
let undiciModule: Undici | undefined;

/**
 * The HTTP client, loaded on the first request: a build whose wheels are all in the store (or
 * come from find-links directories) never pays for loading it.
 */
function undici(): Undici {
  return (undiciModule ??= require('undici') as Undici);
}

/**
 * A dispatcher that routes each request through the proxy the environment asks for
 * (HTTPS_PROXY / HTTP_PROXY, except hosts in NO_PROXY), and disables certificate checks only
 * for pip's trusted hosts.
 */
function router(verified: Dispatcher, trusted: Dispatcher, isTrusted: (origin: URL) => boolean): Dispatcher {
  class Router extends undici().Dispatcher {
    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const origin = new URL(String(opts.origin));
      return (isTrusted(origin) ? trusted : verified).dispatch(opts, handler);
    }
    override async close(): Promise<void> {
      await Promise.all([verified.close(), trusted.close()]);
    }
    override async destroy(): Promise<void> {
      await Promise.all([verified.destroy(), trusted.destroy()]);
    }
  }
  return new Router();
}

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function isRetryable(e: unknown): boolean {
  if (e instanceof RetryableStatus || e instanceof TruncatedDownloadError) return true;
  if (e instanceof IndexError) return false;
  const code = errorCode(e);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** Errors only a local file system gives (a write to a stream carries no path). */
const LOCAL_FS_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EFBIG']);

/** A failure of the local file system (e.g. writing the destination), not of the network. */
function isLocalFsError(e: unknown): boolean {
  const err = e as { path?: unknown; syscall?: unknown; code?: unknown };
  if (typeof err?.code === 'string' && LOCAL_FS_CODES.has(err.code)) return true;
  if ((err?.code === 'EACCES' || err?.code === 'EPERM') && err.syscall !== 'connect') return typeof err.syscall === 'string';
  return typeof err?.path === 'string' && typeof err.syscall === 'string';
}

function describe(e: unknown): string {
  if (e instanceof RetryableStatus) return `the server answered HTTP ${e.status}`;
  const code = errorCode(e);
  const msg = redactText(e instanceof Error ? e.message : String(e));
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isFileLocation(location: string): boolean {
  return location.startsWith('file:') || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location);
}

function localPath(location: string): string {
  return location.startsWith('file:') ? fileURLToPath(location) : path.resolve(location);
}

/** Whether `filename` is an archive of `project` (pip's rule for names with dashes in sdists). */
export function filenameMatchesProject(filename: string, project: string): boolean {
  const canonical = canonicalizeName(project);
  if (filename.toLowerCase().endsWith('.whl')) {
    if (!isWheelFilename(filename)) return false;
    return canonicalizeName(parseWheelFilename(filename).name) === canonical;
  }
  const stem = filename.replace(/\.(tar\.gz|tar\.bz2|tar\.xz|tar\.lz|tar\.lzma|tbz|tgz|txz|tlz|zip|tar)$/i, '');
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (canonicalizeName(stem.slice(0, i)) === canonical) return true;
  }
  return false;
}

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  finalUrl: string;
}

/**
 * Client for PEP 503/691 simple indexes and pip-style find-links locations.
 * Credentials written in an index or find-links URL are sent (as HTTP Basic
 * auth) only to that URL's origin and never appear in errors or results.
 */
export class IndexClient {
  private agentInstance: Dispatcher | undefined;
  private readonly makeAgent: () => Dispatcher;
  private readonly credentials = new Map<string, string>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly home: string | undefined;
  private netrc: Netrc | undefined | null = null;
  private readonly maxRetryAfterMs: number;
  private readonly userAgent: string;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly projectCache = new Map<string, Promise<DistributionFile[]>>();
  private readonly indexCache = new Map<string, Promise<DistributionFile[]>>();
  private readonly findLinksCache = new Map<string, Promise<DistributionFile[]>>();
  private readonly httpCache: HttpCache | undefined;
  private readonly now: () => number;

  constructor(
    readonly config: IndexConfig,
    opts: IndexClientOptions = {},
  ) {
    this.userAgent = opts.userAgent ?? 'nx-pex';
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.env = opts.env ?? process.env;
    this.home = opts.home;
    this.httpCache = opts.httpCache;
    this.now = opts.now ?? Date.now;
    for (const loc of [config.indexUrl, ...config.extraIndexUrls, ...config.findLinks]) this.rememberCredentials(loc);
    for (const named of config.namedIndexes ?? []) this.rememberNamedCredentials(named.name, named.url);
    const timeout = opts.timeoutMs ?? 60_000;
    let ca: Buffer | undefined;
    if (config.certFile) {
      try {
        ca = readFileSync(config.certFile);
      } catch (e) {
        throw new IndexError(
          `Cannot read the CA bundle ${config.certFile} (from PIP_CERT or pip.conf "cert"): ${(e as Error).message}`,
        );
      }
    }
    const trusted = config.trustedHosts.map((h) => h.toLowerCase());
    const env = this.env;
    const proxyEnv = {
      httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? '',
      httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? '',
      noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
    };
    const agentFor = (verify: boolean): Dispatcher => {
      const { Agent, EnvHttpProxyAgent, Pool } = undici();
      const tls = { ...(ca ? { ca } : {}), ...(verify ? {} : { rejectUnauthorized: false }) };
      const common = {
        connections: opts.connectionsPerHost ?? 16,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        connectTimeout: Math.min(timeout, 30_000),
      };
      if (!proxyEnv.httpProxy && !proxyEnv.httpsProxy) {
        return new Agent({ ...common, factory: (origin, poolOpts) => new Pool(origin, { ...poolOpts, connect: tls }) });
      }
      return new EnvHttpProxyAgent({ ...common, ...proxyEnv, connect: tls, requestTls: tls });
    };
    this.makeAgent = () =>
      router(agentFor(true), agentFor(false), (u) => trusted.includes(u.hostname.toLowerCase()) || trusted.includes(u.host.toLowerCase()));
  }

  /** The connection pools, created on the first HTTP request. */
  private get agent(): Dispatcher {
    return (this.agentInstance ??= this.makeAgent());
  }

  /** `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` for the index `name`, sent to its origin only. */
  private rememberNamedCredentials(name: string, url: string): void {
    if (isFileLocation(url)) return;
    const prefix = uvIndexEnvPrefix(name);
    const username = this.env[`${prefix}USERNAME`];
    const password = this.env[`${prefix}PASSWORD`];
    if (username === undefined && password === undefined) return;
    const origin = new URL(splitCredentials(url).url).origin;
    if (!this.credentials.has(origin)) {
      this.credentials.set(origin, Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64'));
    }
  }

  /** Basic credentials for `u`: from a configured URL or named index of its origin, else from netrc. */
  private authFor(u: URL): string | undefined {
    const configured = this.credentials.get(u.origin);
    if (configured) return configured;
    if (this.netrc === null) this.netrc = readNetrc(netrcPath(this.env, this.home));
    const found = netrcCredentials(this.netrc, u.hostname);
    return found ? Buffer.from(`${found.username}:${found.password}`).toString('base64') : undefined;
  }

  /**
   * The cache scope of a GET of `url`: undefined when it is sent without credentials, else a
   * sha256 over its origin and the credentials sent with it (inline, configured or from netrc).
   * Pages kept for one scope are answered only to the same scope.
   */
  private cacheScope(url: string): string | undefined {
    const inline = splitCredentials(url);
    let u: URL;
    try {
      u = new URL(inline.url);
    } catch {
      return undefined;
    }
    const auth = inline.username !== undefined ? Buffer.from(`${inline.username}:${inline.password ?? ''}`).toString('base64') : this.authFor(u);
    return auth ? createHash('sha256').update(`nx-pex index cache scope\n${u.origin}\n${auth}`).digest('hex') : undefined;
  }

  private rememberCredentials(location: string): void {
    if (isFileLocation(location)) return;
    const { url, username, password } = splitCredentials(location);
    if (username === undefined && password === undefined) return;
    const origin = new URL(url).origin;
    if (!this.credentials.has(origin)) {
      this.credentials.set(origin, Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64'));
    }
  }

  /** Every file of `project` from all configured indexes and find-links locations. */
  projectFiles(project: string): Promise<DistributionFile[]> {
    const key = canonicalizeName(project);
    return this.memo(this.projectCache, key, async () => {
      const [fromIndexes, fromLinks] = await Promise.all([this.indexFiles(project), this.findLinksFiles(project)]);
      return [...fromIndexes, ...fromLinks];
    });
  }

  /** The files of `project` listed by the configured indexes (none with noIndex). */
  async indexFiles(project: string): Promise<DistributionFile[]> {
    if (this.config.noIndex) return [];
    const indexes = [...new Set([this.config.indexUrl, ...this.config.extraIndexUrls].map((u) => u.replace(/\/+$/, '')))];
    const lists = await Promise.all(indexes.map((index) => this.indexProjectFiles(index, project)));
    return lists.flat();
  }

  /** The files of `project` found in the configured find-links locations. */
  async findLinksFiles(project: string): Promise<DistributionFile[]> {
    const lists = await Promise.all(this.config.findLinks.map((loc) => this.findLinksListing(loc)));
    return lists.flat().filter((f) => filenameMatchesProject(f.filename, project));
  }

  /** The files of `project` on one simple index (404 means none). */
  indexProjectFiles(index: string, project: string): Promise<DistributionFile[]> {
    const pageUrl = `${index.replace(/\/+$/, '')}/${encodeURIComponent(canonicalizeName(project))}/`;
    return this.memo(this.indexCache, pageUrl, async () => {
      const source = redactUrl(index);
      if (isFileLocation(index)) {
        const dir = localPath(pageUrl);
        const text = await readTextIfExists(path.join(dir, 'index.html'));
        return text === undefined ? [] : parseHtmlPage(text, pageUrl, source);
      }
      const page = await this.getText(pageUrl, SIMPLE_ACCEPT);
      if (!page) return [];
      const type = page.contentType.split(';')[0].trim().toLowerCase();
      if (type === 'application/vnd.pypi.simple.v1+json') return parseJsonPage(page.text, page.finalUrl, source);
      if (type === 'application/vnd.pypi.simple.v1+html' || type === 'text/html' || type === '') {
        return parseHtmlPage(page.text, page.finalUrl, source);
      }
      throw new IndexResponseError(
        `${redactUrl(pageUrl)} answered with content type "${type}", which is not a simple index page; ` +
          `check that the index URL points to a PEP 503 /simple/ endpoint.`,
      );
    });
  }

  private findLinksListing(location: string): Promise<DistributionFile[]> {
    return this.memo(this.findLinksCache, location, async () => {
      const source = redactUrl(location);
      if (isFileLocation(location)) {
        const p = localPath(location);
        const st = await fs.stat(p).catch(() => undefined);
        if (!st) return []; // pip ignores find-links paths that do not exist
        if (st.isDirectory()) {
          const names = (await fs.readdir(p)).filter(isArchiveFilename).sort();
          return names.map((filename) => ({ filename, url: pathToFileURL(path.join(p, filename)).href, source }));
        }
        if (isArchiveFilename(p)) return [{ filename: path.basename(p), url: pathToFileURL(p).href, source }];
        return parseHtmlPage(await fs.readFile(p, 'utf8'), pathToFileURL(p).href, source);
      }
      const page = await this.getText(location, 'text/html');
      if (!page) return [];
      return parseHtmlPage(page.text, page.finalUrl, source);
    });
  }

  private memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let p = cache.get(key);
    if (!p) {
      p = make();
      cache.set(key, p);
      p.catch(() => cache.delete(key));
    }
    return p;
  }

  /** GET with redirects; credentials go only to the origin they were written for. */
  private async send(url: string, headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET'): Promise<Fetched> {
    const inline = splitCredentials(url);
    const inlineOrigin = inline.username !== undefined ? new URL(inline.url).origin : undefined;
    const inlineAuth =
      inline.username !== undefined ? Buffer.from(`${inline.username}:${inline.password ?? ''}`).toString('base64') : undefined;
    let current = inline.url;
    for (let hop = 0; ; hop++) {
      const u = new URL(current);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw new IndexError(`Unsupported URL scheme in ${redactUrl(current)}; use http(s):// or file://.`);
      }
      const auth = u.origin === inlineOrigin ? inlineAuth : this.authFor(u);
      const res = await undici().request(current, {
        method,
        dispatcher: this.agent,
        headers: { 'user-agent': this.userAgent, ...headers, ...(auth ? { authorization: `Basic ${auth}` } : {}) },
      });
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) throw new IndexError(`Too many redirects fetching ${redactUrl(url)}.`);
        current = splitCredentials(new URL(location, current).href).url;
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, finalUrl: current };
    }
  }

  private async withRetries<T>(url: string, attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (e) {
        if (!isRetryable(e)) {
          if (e instanceof IndexError || isLocalFsError(e)) throw e;
          throw new IndexUnreachableError(redactUrl(url), describe(e));
        }
        if (i >= this.retries) {
          if (e instanceof TruncatedDownloadError) throw e;
          throw new IndexUnreachableError(redactUrl(url), `${describe(e)} (after ${i + 1} attempts)`);
        }
        const backoff = this.retryDelayMs * 2 ** i;
        const asked = e instanceof RetryableStatus && e.retryAfterMs !== undefined ? Math.min(e.retryAfterMs, this.maxRetryAfterMs) : 0;
        await sleep(Math.max(backoff, asked));
      }
    }
  }

  private statusError(url: string, status: number): IndexError {
    const where = redactUrl(url);
    if (status === 401 || status === 403) {
      return new IndexError(
        `${where} answered HTTP ${status}: the index refused the credentials. ` +
          `Give credentials in the index URL (PIP_INDEX_URL / pip.conf index-url), in ~/.netrc, or as ` +
          `UV_INDEX_<NAME>_USERNAME / _PASSWORD for a named index, and check they are valid.`,
      );
    }
    return new IndexError(`${where} answered HTTP ${status}.`);
  }

  /** A page's text, or undefined for 404/410. */
  private async getText(url: string, accept: string): Promise<{ text: string; contentType: string; finalUrl: string } | undefined> {
    const page = await this.getCached(url, accept, true, { what: 'an index page', limit: MAX_PAGE_BYTES });
    return page && { text: page.body.toString('utf8'), contentType: page.contentType, finalUrl: page.finalUrl };
  }

  /**
   * A small file (a PEP 658 `.metadata` file) read into memory, checked against `sha256` when
   * given. With `cache`, it is kept in the HTTP cache as its response allows (for files the index
   * gives no hash for; hashed ones are kept by their hash by the caller).
   */
  async getFile(url: string, opts: { sha256?: string; cache?: boolean } = {}): Promise<Buffer> {
    const expected = opts.sha256?.toLowerCase();
    const bound = { what: 'a metadata file', limit: MAX_METADATA_BYTES };
    if (isFileLocation(url)) {
      const file = localPath(url);
      const st = await fs.stat(file).catch((e: Error) => {
        throw new IndexError(`Cannot read ${file}: ${e.message}`);
      });
      if (!st.isFile()) throw new IndexError(`${file} is not a regular file.`);
      if (st.size > bound.limit) throw tooLarge(url, bound.what, bound.limit);
      const body = await fs.readFile(file).catch((e: Error) => {
        throw new IndexError(`Cannot read ${file}: ${e.message}`);
      });
      return checkHash(url, body, expected);
    }
    const page = await this.getCached(url, '*/*', opts.cache ?? false, bound);
    if (!page) throw new IndexError(`${redactUrl(url)} was not found.`);
    try {
      return checkHash(url, page.body, expected);
    } catch (e) {
      // A kept copy that is not what the index says is not kept.
      if (opts.cache) await this.httpCache?.delete(redactUrl(url), '*/*', this.cacheScope(url)).catch(() => undefined);
      throw e;
    }
  }

  /**
   * GET `url` into memory (undefined for 404/410). With `useCache` and a cache: a kept response
   * that is still fresh is answered without a request; a stale one is revalidated (`If-None-Match`
   * / `If-Modified-Since`) and its body reused on 304; a new response is kept as its
   * `Cache-Control` allows. The cache is keyed by the URL with credentials masked and the Accept
   * header; a cache that fails is passed by, never an error.
   */
  private async getCached(url: string, accept: string, useCache: boolean, bound: { what: string; limit: number }): Promise<Page | undefined> {
    const cache = useCache ? this.httpCache : undefined;
    const key = redactUrl(url);
    const scope = cache ? this.cacheScope(url) : undefined;
    const cached = cache ? await cache.get(key, accept, scope).catch(() => undefined) : undefined;
    const asked = this.now();
    // A clock set back since the page was kept makes it stale, not fresh for longer.
    if (cached && cached.body.length > bound.limit) throw tooLarge(url, bound.what, bound.limit);
    if (cached && cached.url === key && cached.accept === accept && cached.storedAt <= asked && asked < cached.freshUntil) return cached;
    return this.withRetries(url, async () => {
      const conditional = cached ? revalidationHeaders(cached) : {};
      const res = await this.send(url, { accept, 'accept-encoding': 'gzip, deflate, br', ...conditional });
      const now = this.now();
      if (res.status === 304 && cached && Object.keys(conditional).length > 0) {
        await res.body.dump();
        const renewed = refreshed(cached, res.headers, now);
        await (renewed ? cache!.put(renewed) : cache!.delete(key, accept, scope)).catch(() => undefined);
        return cached;
      }
      if (res.status === 404 || res.status === 410) {
        await res.body.dump();
        if (cached) await cache!.delete(key, accept, scope).catch(() => undefined);
        return undefined;
      }
      if (res.status >= 500 || res.status === 429) throw await retryableStatus(res);
      if (res.status !== 200) {
        await res.body.dump();
        throw this.statusError(url, res.status);
      }
      const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase().trim();
      const body = await readBounded(res.body, encoding, url, bound.what, bound.limit);
      const page: Page = { body, contentType: String(res.headers['content-type'] ?? ''), finalUrl: res.finalUrl };
      if (cache) {
        const policy = cachePolicy(res.headers, now);
        const keep: CachedResponse | undefined = policy.store
          ? { url: key, accept, ...(scope ? { scope } : {}), ...page, finalUrl: redactUrl(res.finalUrl), ...cacheHeaders(res.headers), storedAt: now, freshUntil: policy.freshUntil }
          : undefined;
        await (keep ? cache.put(keep) : cached ? cache.delete(key, accept, scope) : Promise.resolve()).catch(() => undefined);
      }
      return page;
    });
  }

  /**
   * The size of a remote file whose server takes byte ranges (a HEAD request), else undefined: then
   * only the whole file can be had.
   */
  async rangeSize(url: string): Promise<number | undefined> {
    if (isFileLocation(url)) return undefined;
    return this.withRetries(url, async () => {
      const res = await this.send(url, { accept: '*/*', 'accept-encoding': 'identity' }, 'HEAD');
      await res.body.dump();
      if (res.status >= 500 || res.status === 429) throw new RetryableStatus(res.status, parseRetryAfter(res.headers['retry-after']));
      if (res.status !== 200) return undefined;
      const size = Number(firstHeader(res.headers['content-length']));
      const ranges = firstHeader(res.headers['accept-ranges'])?.trim().toLowerCase() === 'bytes';
      const encoded = (firstHeader(res.headers['content-encoding']) ?? 'identity').toLowerCase() !== 'identity';
      return ranges && !encoded && Number.isSafeInteger(size) && size > 0 ? size : undefined;
    });
  }

  /**
   * Bytes `start` to `end` (inclusive) of a remote file, by a Range request. A server that
   * answers with anything but exactly that range is an error (IndexError), never a whole file.
   */
  async getRange(url: string, start: number, end: number): Promise<Buffer> {
    return this.withRetries(url, async () => {
      const res = await this.send(url, { accept: '*/*', 'accept-encoding': 'identity', range: `bytes=${start}-${end}` });
      if (res.status >= 500 || res.status === 429) throw await retryableStatus(res);
      if (res.status !== 206 || contentRangeStart(res.headers['content-range']) !== start) {
        res.body.destroy();
        throw new IndexError(`${redactUrl(url)} did not answer the byte range ${start}-${end} (HTTP ${res.status}).`);
      }
      const body = Buffer.from(await res.body.arrayBuffer());
      if (body.length !== end - start + 1) throw new TruncatedDownloadError(redactUrl(url), end - start + 1, body.length);
      return body;
    });
  }

  /**
   * Stream `url` (http, https or file) into `dest`, computing its sha256 and
   * verifying it (and the size) when given. A transfer cut short is resumed
   * with a Range request when the server supports ranges, else restarted.
   * On failure `dest` is removed.
   */
  async download(url: string, dest: string, opts: DownloadOptions = {}): Promise<{ sha256: string; size: number }> {
    const expected = opts.sha256?.toLowerCase();
    try {
      let result: { sha256: string; size: number };
      if (isFileLocation(url)) result = await this.copyLocal(url, dest, opts.onProgress);
      else {
        const resume: ResumeState = { reported: 0 };
        const onProgress = opts.onProgress;
        const counted: DownloadProgress | undefined = onProgress
          ? (delta, total) => {
              resume.reported += delta;
              onProgress(delta, total);
            }
          : undefined;
        result = await this.withRetries(url, () => this.downloadOnce(url, dest, { ...opts, onProgress: counted }, resume));
      }
      if (opts.size !== undefined && result.size !== opts.size) {
        if (result.size < opts.size) throw new TruncatedDownloadError(redactUrl(url), opts.size, result.size);
        throw new IndexError(`${redactUrl(url)} is ${result.size} bytes, but ${opts.size} were expected; the file on the server differs from the locked one.`);
      }
      if (expected && result.sha256 !== expected) throw new HashMismatchError(redactUrl(url), expected, result.sha256);
      return result;
    } catch (e) {
      await fs.rm(dest, { force: true });
      throw e;
    }
  }

  private async copyLocal(url: string, dest: string, onProgress?: DownloadProgress): Promise<{ sha256: string; size: number }> {
    const src = localPath(url);
    const hasher = new Hasher(undefined, onProgress);
    try {
      await writeBody(createReadStream(src), hasher, dest, 'w');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' && err.path === src) throw new IndexError(`${src} does not exist (listed by a find-links location or the lock).`);
      // Writing the destination failed (a full disk, a read-only store): the caller's to explain.
      if (err.path === dest || (err.code !== undefined && LOCAL_FS_CODES.has(err.code) && err.path !== src)) throw e;
      throw new IndexError(`Cannot copy ${src}: ${err.message}`);
    }
    return hasher.result();
  }

  private async downloadOnce(url: string, dest: string, opts: DownloadOptions, resume: ResumeState): Promise<{ sha256: string; size: number }> {
    // After a broken transfer from a server that takes ranges, ask only for the rest.
    const have = resume.validator !== undefined ? await fs.stat(dest).then((st) => st.size, () => 0) : 0;
    const headers: Record<string, string> = { accept: '*/*', 'accept-encoding': 'identity' };
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      if (resume.validator) headers['if-range'] = resume.validator;
    }
    const res = await this.send(url, headers);
    if (res.status >= 500 || res.status === 429) throw await retryableStatus(res);
    const partial = res.status === 206 && have > 0 && contentRangeStart(res.headers['content-range']) === have;
    if (res.status !== 200 && !partial) {
      await res.body.dump();
      if (res.status === 404 || res.status === 410) throw new IndexError(`${redactUrl(url)} was not found (HTTP ${res.status}).`);
      if (res.status === 206) throw new RetryableStatus(res.status); // a range we did not ask for: start over
      throw this.statusError(url, res.status);
    }
    const validator = firstHeader(res.headers.etag) ?? firstHeader(res.headers['last-modified']);
    resume.validator = firstHeader(res.headers['accept-ranges'])?.toLowerCase() === 'bytes' ? (validator ?? '') : undefined;
    const header = Number(res.headers['content-length']);
    const bodyBytes = Number.isFinite(header) && header >= 0 && res.headers['content-length'] !== undefined ? header : undefined;
    const start = partial ? have : 0;
    const expectedBytes = bodyBytes !== undefined ? start + bodyBytes : opts.size;
    const hasher = new Hasher(expectedBytes, opts.onProgress);
    if (partial) {
      // Hash what is already on disk, then append the rest.
      for await (const chunk of createReadStream(dest, { end: have - 1 })) hasher.seed(chunk as Buffer);
    }
    // Progress counts what is on disk: take back what an abandoned attempt reported.
    if (resume.reported !== start) opts.onProgress?.(start - resume.reported, expectedBytes);
    try {
      await writeBody(res.body, hasher, dest, partial ? 'a' : 'w');
    } catch (e) {
      if (expectedBytes !== undefined && hasher.bytes < expectedBytes && isRetryable(e)) {
        throw new TruncatedDownloadError(redactUrl(url), expectedBytes, hasher.bytes);
      }
      throw e;
    }
    if (expectedBytes !== undefined && hasher.bytes < expectedBytes) {
      throw new TruncatedDownloadError(redactUrl(url), expectedBytes, hasher.bytes);
    }
    return hasher.result();
  }

  /** Closes the connections (a later request opens new ones) and waits for cache writes. */
  async close(): Promise<void> {
    const agent = this.agentInstance;
    this.agentInstance = undefined;
    await Promise.all([agent?.close(), this.httpCache?.flush?.().catch(() => undefined)]);
  }
}

interface ResumeState {
  /** Bytes reported to the progress callback so far. */
  reported: number;
  /** Set once a response offered byte ranges: its ETag or Last-Modified ('' when it had none). */
  validator?: string;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The first byte position of a `Content-Range: bytes a-b/n` header. */
function contentRangeStart(v: string | string[] | undefined): number | undefined {
  const m = /^bytes\s+(\d+)-\d+\/(\d+|\*)$/i.exec(firstHeader(v)?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Streams a body (an HTTP response or a local file) into `dest`, hashing it on the way. When
 * the body breaks off, what was received is still flushed to disk before the error is passed
 * on, so that a retry can resume from it (a destroyed file stream would drop its pending writes).
 */
async function writeBody(body: AsyncIterable<Buffer>, hasher: Hasher, dest: string, flags: 'a' | 'w'): Promise<void> {
  const out = createWriteStream(dest, { flags });
  const outError = new Promise<never>((_, reject) => out.once('error', reject));
  outError.catch(() => undefined);
  let failure: unknown;
  try {
    for await (const chunk of body) {
      hasher.count(chunk);
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), outError]);
    }
  } catch (e) {
    failure = e;
  }
  await Promise.race([
    new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))),
    outError,
  ]);
  if (out.errored) throw out.errored;
  if (failure !== undefined) throw failure;
}

/** sha256 and byte count of a download, reporting progress as chunks arrive. */
class Hasher {
  private readonly hash = createHash('sha256');
  bytes = 0;
  constructor(
    private readonly total?: number,
    private readonly onProgress?: DownloadProgress,
  ) {}
  /** Count bytes that are already in the destination (a resumed transfer). */
  seed(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  /** Count and hash a chunk on its way to the destination. */
  count(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(chunk.length, this.total);
  }
  result(): { sha256: string; size: number } {
    return { sha256: this.hash.digest('hex'), size: this.bytes };
  }
}

function checkHash(url: string, body: Buffer, expected: string | undefined): Buffer {
  if (expected === undefined) return body;
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== expected) throw new HashMismatchError(redactUrl(url), expected, actual);
  return body;
}

async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new IndexError(`Cannot read ${file}: ${(e as Error).message}`);
  }
}
