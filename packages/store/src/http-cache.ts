/**
 * The store's caches of what resolution reads from indexes, shared by every workspace on the
 * machine like the wheels:
 *
 * - `http/<xx>/<key>`: index pages (PEP 503 HTML, PEP 691 JSON, find-links pages) as their
 *   responses allow keeping them, keyed by the sha256 of the URL without credentials and the
 *   Accept header (`StoreHttpCache`, used by the index client);
 * - `metadata/file-sha256/<xx>/<sha256>`: the core metadata of a distribution file, by the file's
 *   sha256 (immutable: a PEP 658 `.metadata` file, or the METADATA read from the wheel), and
 *   `metadata/sha256/<xx>/<sha256>` by the metadata file's own sha256 when the index gives only
 *   that (`MetadataCache`).
 *
 * Each entry is one file, a JSON header line then the body; the header holds the body's size and
 * sha256, so an entry damaged in any way is noticed, ignored and fetched again. Entries are written
 * to a temporary file beside their place and renamed into it, so readers never see half of one,
 * and no write failure (a full or read-only disk) fails a build: the cache is then passed by.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, promises as fs, openSync, readSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { MAX_METADATA_BYTES, MAX_PAGE_BYTES, redactUrl, type CachedResponse, type HttpCache } from '@nx-pex/index';
import { tryWriteFileAtomic } from '@nx-pex/fs';

const HEX64 = /^[0-9a-f]{64}$/;

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/*
 * Entries are small (a metadata file is a few kB, a project page rarely more than a few MB) and a
 * resolution reads hundreds of them: they are read synchronously, tens of microseconds each, where
 * the thread pool's round trips (open, stat, read, close) cost ten times more. Writes (a create and
 * a rename, a millisecond or more on a journaling file system) go on in the background while the
 * resolution continues; `flush()` waits for them.
 */

/** Directories known to exist (an entry's directory is made once per process). */
const made = new Set<string>();

/** Writes `data` to `file` by a rename from a temporary file beside it; false when it could not. */
async function writeAtomic(file: string, data: Buffer): Promise<boolean> {
  const dir = path.dirname(file);
  const written = await tryWriteFileAtomic(file, data, { mkdir: !made.has(dir) });
  if (written) made.add(dir);
  else made.delete(dir);
  return written;
}

/** Writes started and not yet finished, so that a process can wait for them before it exits. */
class Writes {
  private readonly pending = new Set<Promise<unknown>>();

  start(file: string, data: Buffer): void {
    const p = writeAtomic(file, data).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}

/** An entry: `header` (JSON, one line, with the body's size and sha256), a newline, the body. */
function encodeEntry(header: Record<string, unknown>, body: Buffer): Buffer {
  const head = JSON.stringify({ ...header, size: body.length, sha256: sha256(body) });
  return Buffer.concat([Buffer.from(`${head}\n`, 'utf8'), body]);
}

/** Room for an entry's header line above its body's limit. */
const HEADER_ROOM = 64 * 1024;

/** An entry that is not a regular file, or is larger than its kind may be: never read, removed. */
class NotAnEntry extends Error {}

/**
 * The bytes of `file` if it is a regular file of at most `limit` bytes; undefined when it does
 * not exist. Opened without following a symlink and without blocking (a FIFO in its place
 * answers at once, and is refused), then checked on the open descriptor, so that what is read is
 * what was checked: a symlink to /dev/zero, a device, a FIFO or a huge file is a NotAnEntry.
 */
function readBoundedFile(file: string, limit: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'ENXIO' || code === 'EISDIR') throw new NotAnEntry(code);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > limit) throw new NotAnEntry(st.isFile() ? 'too large' : 'not a regular file');
    const data = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, data, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return data.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * The header and body of an entry, or undefined when it is missing or damaged (then it is
 * removed). `limit` bounds the body: an entry is a regular file inside the store, never a FIFO,
 * a device or a symlink, and never larger than what the client would have accepted from the index.
 */
function readEntry(file: string, limit: number): { header: Record<string, unknown>; body: Buffer } | undefined {
  try {
    const data = readBoundedFile(file, limit + HEADER_ROOM);
    if (!data) return undefined;
    const nl = data.indexOf(0x0a);
    if (nl < 0) throw new Error('no header');
    const header = JSON.parse(data.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
    const body = data.subarray(nl + 1);
    if (typeof header !== 'object' || header === null || header.size !== body.length || body.length > limit || header.sha256 !== sha256(body)) throw new Error('damaged');
    return { header, body };
  } catch {
    try {
      // A FIFO, a device node or a symlink is unlinked, not opened: rm never reads it.
      rmSync(file, { force: true });
    } catch {
      // left for the next write to replace
    }
    return undefined;
  }
}

function entryPath(dir: string, key: string): string {
  return path.join(dir, key.slice(0, 2), key);
}

/** Index pages kept in `<store>/http/` (see the module comment). */
export class StoreHttpCache implements HttpCache {
  readonly dir: string;
  private readonly writes = new Writes();

  constructor(storeRoot: string) {
    this.dir = path.join(path.resolve(storeRoot), 'http');
  }

  /** By URL (without credentials), Accept and scope (who asked: see CachedResponse.scope). */
  private fileFor(url: string, accept: string, scope?: string): string {
    return entryPath(this.dir, sha256(`${redactUrl(url)}\n${accept}${scope ? `\n${scope}` : ''}`));
  }

  async get(url: string, accept: string, scope?: string): Promise<CachedResponse | undefined> {
    const entry = readEntry(this.fileFor(url, accept, scope), MAX_PAGE_BYTES);
    if (!entry) return undefined;
    const h = entry.header;
    const str = (k: string) => (typeof h[k] === 'string' ? (h[k] as string) : undefined);
    if (str('url') !== redactUrl(url) || str('accept') !== accept || str('finalUrl') === undefined) return undefined;
    if (str('scope') !== scope) return undefined;
    if (typeof h.storedAt !== 'number' || typeof h.freshUntil !== 'number') return undefined;
    const out: CachedResponse = {
      url: str('url')!,
      accept,
      finalUrl: str('finalUrl')!,
      contentType: str('contentType') ?? '',
      storedAt: h.storedAt,
      freshUntil: h.freshUntil,
      body: entry.body,
    };
    if (scope) out.scope = scope;
    for (const k of ['etag', 'lastModified', 'cacheControl', 'expires'] as const) {
      const v = str(k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  async put(r: CachedResponse): Promise<void> {
    // Credentials never go into the store: a URL that still has them is not kept.
    if (redactUrl(r.url) !== r.url || redactUrl(r.finalUrl) !== r.finalUrl) return;
    const { body, ...header } = r;
    this.writes.start(this.fileFor(r.url, r.accept, r.scope), encodeEntry(header, body));
  }

  async delete(url: string, accept: string, scope?: string): Promise<void> {
    await this.writes.flush();
    await fs.rm(this.fileFor(url, accept, scope), { force: true }).catch(() => undefined);
  }

  /** Waits for the entries being written. */
  flush(): Promise<void> {
    return this.writes.flush();
  }
}

/** How a metadata entry is keyed: by the distribution file's sha256, or by the metadata file's own. */
export type MetadataKey = { fileSha256: string } | { sha256: string };

/** Core metadata kept in `<store>/metadata/` (see the module comment). */
export class MetadataCache {
  readonly dir: string;
  private readonly writes = new Writes();

  constructor(storeRoot: string) {
    this.dir = path.join(path.resolve(storeRoot), 'metadata');
  }

  private fileFor(key: MetadataKey): string | undefined {
    const [kind, hash] = 'fileSha256' in key ? ['file-sha256', key.fileSha256.toLowerCase()] : ['sha256', key.sha256.toLowerCase()];
    return HEX64.test(hash) ? entryPath(path.join(this.dir, kind), hash) : undefined;
  }

  /**
   * The kept metadata for `key`, or undefined. `expectedSha256` (the metadata file's hash as the
   * index gives it) must match too; a key by the metadata's own hash always is checked against it.
   */
  async get(key: MetadataKey, expectedSha256?: string): Promise<Buffer | undefined> {
    const file = this.fileFor(key);
    if (!file) return undefined;
    const entry = readEntry(file, MAX_METADATA_BYTES);
    if (!entry) return undefined;
    const want = expectedSha256?.toLowerCase() ?? ('sha256' in key ? key.sha256.toLowerCase() : undefined);
    if (want !== undefined && entry.header.sha256 !== want) return undefined;
    return entry.body;
  }

  async put(key: MetadataKey, body: Buffer): Promise<void> {
    const file = this.fileFor(key);
    if (!file || body.length > MAX_METADATA_BYTES) return;
    if ('sha256' in key && sha256(body) !== key.sha256.toLowerCase()) return;
    this.writes.start(file, encodeEntry({}, body));
  }

  /** Drops the kept metadata for `key` (metadata found to disagree with its distribution file). */
  async delete(key: MetadataKey): Promise<void> {
    await this.writes.flush();
    const file = this.fileFor(key);
    if (file) await fs.rm(file, { force: true }).catch(() => undefined);
  }

  /** Waits for the entries being written. */
  flush(): Promise<void> {
    return this.writes.flush();
  }
}
