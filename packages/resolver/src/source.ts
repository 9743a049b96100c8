/**
 * What resolution asks of the indexes: the versions of a project usable on the target (the best
 * file of each), and the core metadata of one file (PEP 658/714 `.metadata` when offered, else the
 * wheel's own METADATA, else a wheel built from the sdist).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  canonicalizeName,
  compareVersions,
  isValidVersion,
  isWheelFilename,
  parseSdistFilename,
  parseWheelFilename,
  selectBestWheel,
  UserError,
  versionSatisfies,
  type TargetPlatform,
} from '@nx-pex/pep';
import { redactUrl, type DistributionFile, type IndexClient } from '@nx-pex/index';
import { checkZipArchive, onConfiguredHosts, type MetadataCache, type MetadataKey, type WheelStore } from '@nx-pex/store';
import { parseCoreMetadata, type CoreMetadata } from './metadata';
import { readWheelMetadata } from './wheel-metadata';
import { readRemoteWheelMetadata } from './remote-wheel';
import { filesByVersion } from './versions';

/** pip's `--only-binary` / `--no-binary`: canonical names, or `:all:`. */
export interface FormatControl {
  onlyBinary?: readonly string[];
  noBinary?: readonly string[];
}

/** Which kinds of files pip's format control allows for a project. */
export function allowedFormats(name: string, fc: FormatControl = {}): { binary: boolean; source: boolean } {
  const only = new Set((fc.onlyBinary ?? []).map((n) => (n === ':all:' ? n : canonicalizeName(n))));
  const no = new Set((fc.noBinary ?? []).map((n) => (n === ':all:' ? n : canonicalizeName(n))));
  if (only.has(name)) return { binary: true, source: false };
  if (no.has(name)) return { binary: false, source: true };
  if (only.has(':all:')) return { binary: true, source: false };
  if (no.has(':all:')) return { binary: false, source: true };
  return { binary: true, source: true };
}

/** A wheel made from an sdist or a local project directory. */
export interface BuiltWheel {
  /** The wheel file (in the store). */
  path: string;
  filename: string;
  sha256: string;
  size: number;
}

/** Builds a wheel from an sdist file or a project directory for the target; supplied by the caller. */
export interface WheelBuilder {
  (input: {
    kind: 'sdist' | 'directory';
    path: string;
    /** The sdist's file name (its store path has none). */
    filename?: string;
    name?: string;
    sha256?: string;
    url: string;
  }): Promise<BuiltWheel>;
  /**
   * Why this builder cannot make wheels that fit the target (its interpreter's tags are not the
   * target's: another Python version or platform), or undefined when it can. Sdists are then not
   * built, as pip takes only wheels (`--only-binary :all:`) for a foreign `--platform`.
   */
  foreignReason?: () => Promise<string | undefined>;
}

/** One version of a project, with the file resolution would take for it. */
export interface VersionEntry {
  version: string;
  file: DistributionFile;
  /** Every usable file of this version is yanked (PEP 592). */
  yanked: boolean;
  /** The file is an sdist: its metadata comes from building it. */
  sdist: boolean;
}

export interface SourceOptions {
  client: IndexClient;
  target: TargetPlatform;
  formats?: FormatControl;
  /** Where wheels without PEP 658 metadata are downloaded to (also the build's store). */
  store?: WheelStore;
  buildWheel?: WheelBuilder;
  log?: (line: string) => void;
  /**
   * Where the core metadata of distribution files is kept between runs, by the file's sha256 (or
   * the metadata file's own when the index gives only that). Without one, metadata files without
   * a hash still go through the index client's HTTP cache.
   */
  metadataCache?: MetadataCache;
}

/** What a file's metadata step produced: the metadata and, for built or downloaded files, the wheel. */
export interface FileMetadata {
  metadata: CoreMetadata;
  /** A wheel built from an sdist or a directory: what goes into the PEX instead of the file. */
  built?: BuiltWheel;
  /** sha256 learnt by downloading a file the index gave no hash for. */
  sha256?: string;
  /**
   * Where the metadata came from when not from the file's own bytes (a PEP 658 `.metadata` file,
   * the store's metadata cache, a range read of the remote wheel): what the build checks against
   * the wheel's METADATA once the wheel is fetched. Undefined: read from the file itself.
   */
  from?: MetadataOrigin;
}

/** Metadata taken on the index's word: where it came from, and how it is kept. */
export interface MetadataOrigin {
  /** For messages: the `.metadata` URL, "the store's metadata cache (...)", "a range read of <url>". */
  description: string;
  /** The `.metadata` URL (credentials removed), when it was one. */
  url?: string;
  /** The keys it may be kept under in the store's metadata cache. */
  cacheKeys: MetadataKey[];
}

function compareDesc(a: string, b: string, cmp: (x: string, y: string) => number): number {
  return cmp(b, a);
}

export class IndexSource {
  private readonly versionCache = new Map<string, Promise<VersionEntry[]>>();
  private readonly metadataCache = new Map<string, Promise<FileMetadata>>();

  constructor(readonly opts: SourceOptions) {}

  /** Waits for the metadata still being written into the store. */
  async close(): Promise<void> {
    await this.opts.metadataCache?.flush().catch(() => undefined);
  }

  /** Usable versions of `name` for the target, newest first (invalid versions are skipped). */
  versions(name: string, compare: (a: string, b: string) => number): Promise<VersionEntry[]> {
    let p = this.versionCache.get(name);
    if (!p) {
      p = this.loadVersions(name, compare);
      this.versionCache.set(name, p);
    }
    return p;
  }

  /** Every file the indexes list for `name` (for error messages). */
  async files(name: string): Promise<DistributionFile[]> {
    // With --no-pypi / no-index, a file listed on another host than the configured ones is not fetched.
    return onConfiguredHosts(await this.opts.client.projectFiles(name), this.opts.client.config);
  }

  private async loadVersions(name: string, compare: (a: string, b: string) => number): Promise<VersionEntry[]> {
    const { target } = this.opts;
    const formats = allowedFormats(name, this.opts.formats);
    const files = await this.files(name);
    const python = target.pythonVersion;
    const out: VersionEntry[] = [];
    for (const { version: key, wheels, sdists } of filesByVersion(name, files, formats, (f) => !f.requiresPython || requiresPythonHolds(f.requiresPython, python))) {
      const pick = (yanked: boolean): VersionEntry | undefined => {
        const ws = wheels.filter((f) => (f.yanked !== undefined) === yanked);
        const best = selectBestWheel(ws, target);
        if (best) return { version: parseWheelFilename(best.filename).version, file: best, yanked, sdist: false };
        const sd = sdists.find((f) => (f.yanked !== undefined) === yanked);
        if (sd) return { version: key, file: sd, yanked, sdist: true };
        return undefined;
      };
      const entry = pick(false) ?? pick(true);
      if (entry) out.push(entry);
    }
    return out.sort((a, b) => compareDesc(a.version, b.version, compare));
  }

  /** Core metadata of one file (memoised by URL). */
  metadata(file: DistributionFile, name: string, sdist: boolean): Promise<FileMetadata> {
    let p = this.metadataCache.get(file.url);
    if (!p) {
      p = this.loadMetadata(file, name, sdist);
      this.metadataCache.set(file.url, p);
    }
    return p;
  }

  /** Metadata of a local project directory, built into a wheel. */
  directoryMetadata(dir: string, url: string): Promise<FileMetadata> {
    let p = this.metadataCache.get(url);
    if (!p) {
      p = this.buildAndRead({ kind: 'directory', path: dir, url });
      this.metadataCache.set(url, p);
    }
    return p;
  }

  private async buildAndRead(input: Parameters<WheelBuilder>[0]): Promise<FileMetadata> {
    if (!this.opts.buildWheel) {
      throw new UserError(`${redactUrl(input.url)} has no wheel for this target, and building from source is not available here.`);
    }
    const built = await this.opts.buildWheel(input);
    const metadata = parseCoreMetadata(await readWheelMetadata(built.path, built.filename));
    return { metadata, built };
  }

  private async loadMetadata(file: DistributionFile, name: string, sdist: boolean): Promise<FileMetadata> {
    const { client } = this.opts;
    const local = file.url.startsWith('file:');
    if (sdist) {
      // Before anything is downloaded: an sdist the local interpreter cannot build for the target stops here.
      const why = await this.opts.buildWheel?.foreignReason?.();
      if (why) {
        const version = parseSdistFilename(file.filename)?.version;
        throw new ForeignSdistError(foreignSdistMessage(name, version, file.filename, this.opts.target, why, newestWheelVersion(await this.files(name), name, this.opts.target)));
      }
      const { path, sha256 } = local ? { path: fileURLToPath(file.url), sha256: file.sha256 } : await this.download(file);
      return this.buildAndRead({ kind: 'sdist', path, filename: file.filename, name, sha256, url: file.url });
    }
    if (local) return { metadata: parseCoreMetadata(await readWheelMetadata(fileURLToPath(file.url), file.filename)) };
    // A file's metadata never changes while its bytes do not: it is kept by the file's sha256, and
    // checked against the metadata file's own sha256 whenever the index gives one.
    const cache = this.opts.metadataCache;
    const metadataSha256 = typeof file.coreMetadata === 'object' ? file.coreMetadata.sha256 : undefined;
    const key: MetadataKey | undefined = file.sha256 ? { fileSha256: file.sha256 } : metadataSha256 ? { sha256: metadataSha256 } : undefined;
    const metadataUrl = `${file.url}.metadata`;
    const cacheKeys: MetadataKey[] = [...(file.sha256 ? [{ fileSha256: file.sha256 }] : []), ...(metadataSha256 ? [{ sha256: metadataSha256 }] : [])];
    if (cache && key) {
      const kept = await cache.get(key, metadataSha256).catch(() => undefined);
      if (kept) {
        const description = `the store's metadata cache (${file.coreMetadata ? `kept from ${redactUrl(metadataUrl)}` : `kept from ${redactUrl(file.url)}`})`;
        return { metadata: parseCoreMetadata(kept.toString('utf8')), from: { description, ...(file.coreMetadata ? { url: redactUrl(metadataUrl) } : {}), cacheKeys } };
      }
    }
    if (file.coreMetadata) {
      const body = await client.getFile(metadataUrl, { ...(metadataSha256 ? { sha256: metadataSha256 } : {}), cache: !key });
      const metadata = parseCoreMetadata(body.toString('utf8'));
      if (cache && key) await cache.put(key, body).catch(() => undefined);
      return { metadata, from: { description: `${redactUrl(metadataUrl)} (PEP 658)`, url: redactUrl(metadataUrl), cacheKeys } };
    }
    // A wheel the store has (verified by its sha256 when it entered) is read there. Else, on a
    // server that takes byte ranges, its METADATA alone is read, not the whole file; that is not
    // kept, since nothing vouches for it until the whole file is checked against its sha256.
    const stored = file.sha256 && this.opts.store ? await this.opts.store.get(file.sha256, { label: file.filename }).catch(() => undefined) : undefined;
    if (!stored && isWheelFilename(file.filename) && /^https?:/i.test(file.url)) {
      const text = await readRemoteWheelMetadata(client, file.url, file.filename);
      if (text !== undefined) return { metadata: parseCoreMetadata(text), from: { description: `a range read of ${redactUrl(file.url)}`, cacheKeys: [] } };
    }
    const { path, sha256 } = stored ? { path: stored, sha256: file.sha256! } : await this.download(file);
    const text = await readWheelMetadata(path, file.filename);
    const metadata = parseCoreMetadata(text);
    if (cache) await cache.put({ fileSha256: sha256 }, Buffer.from(text, 'utf8')).catch(() => undefined);
    return { metadata, sha256 };
  }

  /** Brings a remote file into the store (verified against the index's sha256 when it gives one). */
  private async download(file: DistributionFile): Promise<{ path: string; sha256: string }> {
    const { client, store } = this.opts;
    if (!store) throw new UserError(`${file.filename}: its metadata can only be read from the file itself, and no store was given to download it into.`);
    const label = redactUrl(file.url);
    if (file.sha256) {
      const path = await store.ensure(
        file.sha256,
        async (tmp) => {
          const digest = await client.download(file.url, tmp, { sha256: file.sha256, size: file.size });
          if (/\.(whl|zip)$/i.test(file.filename)) await checkZipArchive(tmp, file.filename, label);
          return digest;
        },
        { label: file.filename },
      );
      return { path, sha256: file.sha256 };
    }
    const dir = await mkdtemp(join(tmpdir(), 'nx-pex-dl-'));
    try {
      const tmp = join(dir, randomBytes(6).toString('hex'));
      const digest = await client.download(file.url, tmp);
      if (/\.(whl|zip)$/i.test(file.filename)) await checkZipArchive(tmp, file.filename, label);
      const path = await store.ensure(
        digest.sha256,
        async (dest) => {
          await rename(tmp, dest).catch((e: NodeJS.ErrnoException) => (e.code === 'EXDEV' ? copyFile(tmp, dest) : Promise.reject(e)));
          return digest;
        },
        { label: file.filename },
      );
      this.opts.log?.(`${file.filename}: ${file.source} gives no sha256; downloaded it and computed sha256 ${digest.sha256}`);
      return { path, sha256: digest.sha256 };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** `Requires-Python` as pip checks it: an unparsable specifier is ignored. */
export function requiresPythonHolds(spec: string, python: string): boolean {
  try {
    return versionSatisfies(python, spec, { prereleases: true });
  } catch {
    return true;
  }
}

/** An sdist that would have to be built for a target the local interpreter cannot build for. */
export class ForeignSdistError extends UserError {}

/** The newest version of `name` among `files` that has a wheel for the target (and whose requires-python admits it). */
export function newestWheelVersion(files: readonly DistributionFile[], name: string, target: TargetPlatform): string | undefined {
  let best: string | undefined;
  for (const f of files) {
    if (!isWheelFilename(f.filename) || f.yanked !== undefined) continue;
    if (f.requiresPython && !requiresPythonHolds(f.requiresPython, target.pythonVersion)) continue;
    const w = parseWheelFilename(f.filename);
    if (w.name !== canonicalizeName(name) || !isValidVersion(w.version) || !selectBestWheel([f], target)) continue;
    if (best === undefined || compareVersions(w.version, best) > 0) best = w.version;
  }
  return best;
}

/** What to say when `name`'s sdist would be built for a foreign target: the newest version with a wheel, and how to pin it. */
export function foreignSdistMessage(name: string, version: string | undefined, filename: string, target: TargetPlatform, why: string, newest: string | undefined): string {
  const what = `${name}${version ? ` ${version}` : ''}`;
  const pin = newest
    ? `The newest ${name} with a wheel for ${target.id} is ${newest}: pin it, e.g. add "${name}==${newest}" to the requirements (or to a --constraints file, or to the project's dependencies and re-lock).`
    : `No version of ${name} on the index has a wheel for ${target.id}: build its wheel on that platform (or in a container of it) and serve it from your index or a --find-links directory.`;
  return (
    `${what} has no wheel for target ${target.id}, only the sdist ${filename}, and it is not built: ${why}. ` +
    `${pin} Or build for this target with an interpreter of it (--python).`
  );
}
