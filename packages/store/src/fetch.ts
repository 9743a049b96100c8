import { DEFAULT_INDEX_URL, DistributionFile, IndexClient, IndexConfig, IndexError, redactUrl } from '@nx-pex/index';
import { UserError } from '@nx-pex/pep';
import { WheelStore, type FileDigest } from './store';
import { checkZipArchive } from './archive';
import { ProgressReporter } from './progress';

/** One locked file to bring into the store. */
export interface ArtifactRequest {
  project: string;
  version: string;
  filename: string;
  sha256: string;
  size?: number;
  /** The file's URL as the lock records it. */
  url?: string;
  /** The index the lock names for this package. */
  registry?: string;
  /** What a local `file:` URL is, in progress lines ("the nx-pex package"); default "a local directory". */
  origin?: string;
}

export interface FetchLog {
  (line: string): void;
}

export interface FetchArtifactsOptions {
  store: WheelStore;
  client: IndexClient;
  config: IndexConfig;
  log?: FetchLog;
  /** Parallel downloads (default 8). */
  concurrency?: number;
  /** Take files from the store only; fail listing every missing one. */
  offline?: boolean;
  /** Download progress (file names and byte counts only). */
  progress?: ProgressReporter;
}

/** Whether the environment asks for offline builds (`NX_PEX_OFFLINE=1`, `true`, `yes` or `on`). */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test((env.NX_PEX_OFFLINE ?? '').trim());
}

/** An offline build lacks files that are not in the store. */
export class OfflineMissingError extends UserError {
  constructor(
    readonly missing: ArtifactRequest[],
    readonly storeRoot: string,
  ) {
    super(
      `Offline build: ${missing.length} locked file${missing.length === 1 ? ' is' : 's are'} not in the wheel store ${storeRoot}:\n` +
        missing.map((r) => `  ${r.filename} (${r.project} ${r.version}, sha256 ${r.sha256})`).join('\n') +
        `\nBuild once online (without --offline / NX_PEX_OFFLINE) to fill the store, or point NX_PEX_STORE at a store that has them.`,
    );
  }
}

/** No configured location has the locked file. */
export class ArtifactNotFoundError extends UserError {
  constructor(
    readonly project: string,
    readonly filename: string,
    readonly tried: string[],
    detail?: string,
  ) {
    super(
      `Cannot find ${filename} (${project}) in any location: ${tried.length ? tried.join(', ') : 'none configured'}.` +
        (detail ? ` ${detail}` : '') +
        ` Check that the index (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / pip.conf) or find-links (PIP_FIND_LINKS) serves it, or re-lock.`,
    );
  }
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');
const isDefaultIndex = (u: string) => trimSlash(u) === DEFAULT_INDEX_URL;
const isLocal = (u: string) => u.startsWith('file:');

function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'file:' ? 'file:' : u.origin;
  } catch {
    return undefined;
  }
}

/**
 * With PyPI left out (`--no-pypi`, or no index at all), the origins a build may contact: those of
 * the configured indexes and find-links locations (local ones need none). Undefined: any.
 */
export function allowedOrigins(config: IndexConfig): Set<string> | undefined {
  if (!config.noIndex && !config.onlyConfiguredHosts) return undefined;
  const indexes = config.noIndex ? [] : [config.indexUrl, ...config.extraIndexUrls];
  const out = new Set<string>(['file:']);
  for (const u of [...indexes, ...config.findLinks]) {
    const o = originOf(u);
    if (o) out.add(o);
  }
  return out;
}

/**
 * The files of an index or find-links listing that a build may fetch: with `--no-pypi` or
 * no-index, only those on the configured indexes and find-links (or local files).
 */
export function onConfiguredHosts<T extends { url: string }>(files: T[], config: IndexConfig): T[] {
  const allowed = allowedOrigins(config);
  if (!allowed) return files;
  return files.filter((f) => allowed.has(originOf(f.url) ?? ''));
}

/** Where one request's file should come from, in order of preference. */
async function sources(
  req: ArtifactRequest,
  client: IndexClient,
  config: IndexConfig,
  tried: string[],
  refused: string[],
): Promise<{ url: string; from: string }[]> {
  const out: { url: string; from: string }[] = [];
  const allowed = allowedOrigins(config);
  const permitted = (url: string) => {
    if (!allowed || isLocal(url) || allowed.has(originOf(url) ?? '')) return true;
    refused.push(redactUrl(url));
    return false;
  };
  const add = (url: string, from: string) => {
    if (permitted(url)) out.push({ url, from });
  };
  const byName = (files: DistributionFile[]) => files.filter((f) => f.filename === req.filename);

  for (const f of byName(await client.findLinksFiles(req.project))) add(f.url, f.source);
  tried.push(...config.findLinks.map(redactUrl));
  if (out.length) return out;

  const indexes = config.noIndex ? [] : [config.indexUrl, ...config.extraIndexUrls];
  const mirrored = indexes.length > 0 && !indexes.every(isDefaultIndex);
  const lockNamesPyPI = req.registry === undefined || isDefaultIndex(req.registry);
  const lookUp = async (index: string) => {
    tried.push(redactUrl(index));
    for (const f of byName(await client.indexProjectFiles(index, req.project))) add(f.url, f.source);
  };
  // A lock URL on a host the build may not contact: look for the file on the configured indexes.
  const lockUrlRefused = req.url !== undefined && allowed !== undefined && !isLocal(req.url) && !allowed.has(originOf(req.url) ?? '');

  if ((lockNamesPyPI && mirrored) || (lockUrlRefused && indexes.length > 0)) {
    for (const index of indexes) await lookUp(index);
  } else if (!req.url) {
    // The lock has no URL (e.g. poetry.lock): ask the lock's registry, then the configured indexes.
    const registry = req.registry && !config.noIndex && (!allowed || allowed.has(originOf(req.registry) ?? '')) ? [req.registry] : [];
    const candidates = [...new Set([...registry, ...indexes].map(trimSlash))];
    for (const index of candidates) await lookUp(index);
  }
  if (req.url && !lockUrlRefused) {
    if (!out.some((s) => s.url === req.url)) add(req.url, 'the lock');
    tried.push(redactUrl(req.url));
  } else if (req.url) {
    refused.push(redactUrl(req.url));
  }
  return out;
}

/**
 * Bring every requested file into the store (in parallel, bounded) and return
 * sha256 -> store path. Each file is taken from a find-links location that has
 * it; else, when the lock points at PyPI but pip is configured with another
 * index (a mirror), from that index; else from the lock's URL. Every file is
 * verified against the lock's sha256 before it enters the store.
 */
export async function fetchArtifacts(requests: ArtifactRequest[], opts: FetchArtifactsOptions): Promise<Map<string, string>> {
  const { store, log, progress } = opts;
  const unique = new Map<string, ArtifactRequest>();
  for (const r of requests) {
    const h = r.sha256.toLowerCase();
    if (!unique.has(h)) unique.set(h, { ...r, sha256: h });
  }
  if (opts.offline) return fromStoreOnly([...unique.values()], store);
  const result = new Map<string, string>();
  const queue = [...unique.values()];
  let failure: unknown;

  const one = async (req: ArtifactRequest) => {
    const path = await store.ensure(req.sha256, (tmp) => download(req, tmp, opts), { size: req.size, label: req.filename, onDamaged: log });
    result.set(req.sha256, path);
  };

  const worker = async () => {
    for (let req = queue.shift(); req && failure === undefined; req = queue.shift()) {
      try {
        await one(req);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 8, queue.length));
  try {
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    progress?.finish();
  }
  if (failure !== undefined) throw failure;
  return result;
}

/** `--offline`: every file from the store, or one error listing each missing one. */
async function fromStoreOnly(requests: ArtifactRequest[], store: WheelStore): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const missing: ArtifactRequest[] = [];
  for (const req of requests) {
    const p = await store.get(req.sha256, { label: req.filename });
    if (p) result.set(req.sha256, p);
    else missing.push(req);
  }
  if (missing.length) throw new OfflineMissingError(missing, store.root);
  return result;
}

/**
 * Downloads one file to `tmp` from the first of its sources that serves it whole (verified
 * against the lock's sha256 as it streams, a wheel or zip checked as an archive); returns its
 * digest and size, computed on the way.
 */
async function download(req: ArtifactRequest, tmp: string, opts: FetchArtifactsOptions): Promise<FileDigest> {
  const { client, config, log, progress } = opts;
  const tried: string[] = [];
  const refused: string[] = [];
  const candidates = await sources(req, client, config, tried, refused);
  if (!candidates.length) {
    const why = [
      ...(config.noIndex ? ['Indexes are disabled (no-index).'] : []),
      ...(refused.length
        ? [`Not contacted, as ${config.noIndex ? 'no-index' : '--no-pypi'} allows only the configured indexes and find-links: ${[...new Set(refused)].join(', ')}.`]
        : []),
    ];
    throw new ArtifactNotFoundError(req.project, req.filename, [...new Set(tried)], why.length ? why.join(' ') : undefined);
  }
  let lastError: unknown;
  for (const c of candidates) {
    const local = c.url.startsWith('file:');
    if (!progress) log?.(`${local ? 'Copying' : 'Downloading'} ${req.filename} from ${local && req.origin ? req.origin : redactUrl(c.url)}`);
    progress?.start(req.filename, req.size, local ? (req.origin ?? 'a local directory') : undefined);
    let ok = false;
    try {
      const written = await client.download(c.url, tmp, {
        sha256: req.sha256,
        size: req.size,
        onProgress: progress ? (delta) => progress.advance(req.filename, delta) : undefined,
      });
      if (/\.(whl|zip)$/i.test(req.filename)) await checkZipArchive(tmp, req.filename, redactUrl(c.url));
      ok = true;
      // Hashed while it streamed to disk: the store checks this digest rather than reading the file again.
      return written;
    } catch (e) {
      lastError = e;
      if (!(e instanceof IndexError)) throw e;
      log?.(`  ${req.filename} from ${redactUrl(c.url)} failed: ${e.message}`);
    } finally {
      progress?.done(req.filename, ok);
    }
  }
  if (candidates.length === 1) throw lastError;
  throw new ArtifactNotFoundError(
    req.project,
    req.filename,
    candidates.map((c) => redactUrl(c.url)),
    `Last error: ${(lastError as Error).message}`,
  );
}
