import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs, unlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashMismatchError, IndexError } from '@nx-pex/index';
import { UserError } from '@nx-pex/pep';
import { evict } from './evict';
import { HOST_TAG, identityOf, keepOnInterrupt, pidAlive, removeOnInterrupt, sameIdentity, syncDir, tryWriteFileAtomic, type FileIdentity } from '@nx-pex/fs';

/** The store root: $NX_PEX_STORE, else $XDG_CACHE_HOME/nx-pex, else ~/.cache/nx-pex. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NX_PEX_STORE?.trim()) return path.resolve(env.NX_PEX_STORE);
  const cache = env.XDG_CACHE_HOME?.trim() ? env.XDG_CACHE_HOME : path.join(env.HOME || os.homedir(), '.cache');
  return path.resolve(cache, 'nx-pex');
}

/** A problem with the store itself (permissions, a bad hash string). */
export class StoreError extends UserError {}

const HEX64 = /^[0-9a-f]{64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A lock whose holder has not touched it for this long is abandoned. */
const LOCK_STALE_MS = 30_000;
const LOCK_REFRESH_MS = 5_000;
const LOCK_POLL_MS = 100;

/** The sha256 (lower-case hex) and byte count of a file's contents. */
export interface FileDigest {
  sha256: string;
  size: number;
}

/** A use of a store file is recorded (its mtime) at most this often, so warm builds write nothing. */
const TOUCH_EVERY_MS = 60 * 60 * 1000;

/** A store file that is no longer what entered the store. */
export class DamagedStoreFileError extends UserError {
  constructor(
    readonly file: string,
    readonly label: string,
    readonly reason: string,
  ) {
    super(
      `The wheel store's copy of ${label} (${file}) is damaged: ${reason}. ` +
        `Build once online (without --offline / NX_PEX_OFFLINE) to fetch it again, or delete the file.`,
    );
  }
}

export async function sha256File(file: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), size };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lease files of this process, removed when it exits (a killed process's are ignored: its pid is dead). */
const liveLeases = new Set<string>();
let exitHook = false;
function registerLease(file: string): void {
  liveLeases.add(file);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const f of liveLeases) {
      try {
        unlinkSync(f);
      } catch {
        // already gone
      }
    }
  });
}

/** `tmp/<sha256>.<host tag>-<pid>.<random>.part` (a download) or `.pruned` (a file on its way out). */
const TMP_NAME = /^[0-9a-f]{64}\.([0-9a-f]{8})-(\d+)\.[0-9a-f]{12}\.(part|pruned)$/;

/** A failure to write into the store, as one message saying what to do; undefined for other errors. */
export function storeWriteError(e: unknown, root: string, label: string): StoreError | undefined {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError(
        `No space left for ${label} in the wheel store ${root} (${code}): free disk space (\`nx-pex cache prune\` removes old wheels), or set NX_PEX_STORE to a disk with room.`,
      );
    case 'EROFS':
      return new StoreError(
        `The wheel store ${root} is on a read-only file system (EROFS), so ${label} cannot be added: set NX_PEX_STORE to a writable directory, or build --offline from a store that has every wheel.`,
      );
    case 'EACCES':
    case 'EPERM':
      return new StoreError(
        `No permission to write ${label} into the wheel store ${root} (${code}): fix the directory's owner or permissions, or set NX_PEX_STORE to a directory you may write to.`,
      );
    default:
      return undefined;
  }
}

/** What `WheelStore.info()` reports. */
export interface StoreInfo {
  root: string;
  /** Verified files at their content address. */
  files: number;
  bytes: number;
  /** Partial downloads in `tmp/` (of running or killed processes). */
  tmpFiles: number;
  tmpBytes: number;
  /** Files held by running builds. */
  inUse: number;
  /** Last use of the least and most recently used file. */
  oldest?: Date;
  newest?: Date;
}

export interface PruneOptions {
  /** Remove files not used for this long. */
  olderThanMs?: number;
  /** Then remove the least recently used files until the store is at most this big. */
  maxBytes?: number;
  /** List what would go without removing anything. */
  dryRun?: boolean;
  now?: number;
}

export interface PruneResult {
  removed: { sha256: string; bytes: number }[];
  freedBytes: number;
  /** Files kept because a running build holds them (or is writing them). */
  skippedInUse: number;
  remainingFiles: number;
  remainingBytes: number;
}

interface StoredFile {
  sha256: string;
  path: string;
  bytes: number;
  /** Last use: the file's mtime, refreshed whenever a build takes it from the store. */
  usedMs: number;
}

/**
 * Content-addressed store of files (wheels, sdists) keyed by sha256.
 *
 * A file appears at `pathFor(hash)` only after its hash was verified and its
 * bytes were synced, by one atomic rename from the store's own `tmp/`
 * directory, so readers never see a partial file and concurrent writers in
 * several processes are safe. A per-hash lock file avoids downloading the same
 * file twice at once; it is advisory only and a dead holder's lock is ignored.
 */
export class WheelStore {
  readonly root: string;
  private cleaned = false;
  private leaseFile?: string;
  private readonly held = new Set<string>();
  private leaseWrites: Promise<void> = Promise.resolve();
  /** Identities this process found (or made) true, by hash. */
  private readonly checked = new Map<string, FileIdentity>();
  /** How many store files this instance had to read again to verify them (unchanged files are not read). */
  rehashed = 0;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private check(sha256: string): string {
    const h = sha256.toLowerCase();
    if (!HEX64.test(h)) throw new StoreError(`Not a sha256 hex digest: ${JSON.stringify(sha256)}`);
    return h;
  }

  /** `<root>/wheels/sha256/<first two hex digits>/<full hex digest>` */
  pathFor(sha256: string): string {
    const h = this.check(sha256);
    return path.join(this.root, 'wheels', 'sha256', h.slice(0, 2), h);
  }

  private get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  private lockPath(sha256: string): string {
    return path.join(this.root, 'locks', `${sha256}.lock`);
  }

  private get leaseDir(): string {
    return path.join(this.root, 'leases');
  }

  /**
   * Mark `hash` as in use by this process until `release()` or exit, so that
   * `prune` leaves it alone: one lease file per store instance,
   * `leases/<pid>.<host>.<random>`, listing the hashes it holds. Layers (keyed
   * by a sha256 as well) are held the same way.
   */
  hold(hash: string): Promise<void> {
    if (this.held.has(hash)) return this.leaseWrites;
    this.held.add(hash);
    this.leaseWrites = this.leaseWrites.then(async () => {
      try {
        if (!this.leaseFile) {
          await fs.mkdir(this.leaseDir, { recursive: true });
          this.leaseFile = path.join(this.leaseDir, `${process.pid}.${os.hostname()}.${randomBytes(6).toString('hex')}`);
          registerLease(this.leaseFile);
        }
        await fs.appendFile(this.leaseFile, `${hash}\n`);
      } catch {
        // A store on a read-only medium cannot be pruned either.
      }
    });
    return this.leaseWrites;
  }

  /** Drop this process's hold on every file it took from the store (they may be pruned again). */
  async release(): Promise<void> {
    await this.leaseWrites;
    const file = this.leaseFile;
    this.leaseFile = undefined;
    this.held.clear();
    if (file) {
      liveLeases.delete(file);
      await fs.rm(file, { force: true });
    }
  }

  /**
   * The path of `sha256` if the store has it intact (and hold it for this process), else
   * undefined. Never fetches; a damaged file is removed and reported (DamagedStoreFileError).
   */
  async get(sha256: string, opts: { label?: string } = {}): Promise<string | undefined> {
    const hash = this.check(sha256);
    await this.hold(hash);
    const state = await this.verifyStored(hash);
    if (state.kind === 'missing') return undefined;
    if (state.kind === 'damaged') {
      await this.discard(hash, opts.label ?? hash, state.reason);
      throw new DamagedStoreFileError(this.pathFor(hash), opts.label ?? hash, `${state.reason}; it was removed`);
    }
    return this.pathFor(hash);
  }

  /**
   * The identity of a store file as this process last verified it (by `get` or `ensure`): a
   * reader that finds the file so (`fstat` of its open handle) reads what entered the store.
   */
  identityOf(sha256: string): FileIdentity | undefined {
    return this.checked.get(sha256.toLowerCase());
  }

  private recordPath(hash: string): string {
    return path.join(this.root, 'records', hash.slice(0, 2), hash);
  }

  private async readRecord(hash: string): Promise<FileIdentity | undefined> {
    try {
      const r = JSON.parse(await fs.readFile(this.recordPath(hash), 'utf8')) as FileIdentity;
      return typeof r.size === 'number' && typeof r.ino === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  /** Record what `hash`'s file looks like now (after it was verified), atomically. */
  private async writeRecord(hash: string, identity: FileIdentity): Promise<void> {
    this.checked.set(hash, identity);
    // A read-only store cannot keep records: its files are hashed again at each use.
    await tryWriteFileAtomic(this.recordPath(hash), JSON.stringify(identity), { mkdir: true });
  }

  /**
   * Whether the file at `hash`'s address is still what entered the store: a regular file whose
   * size and identity match its record. When they do not (or there is no record), the file is
   * hashed again; if its sha256 still matches, the record is renewed, else it is damaged.
   * Also records a use (for `prune`) at most once an hour.
   */
  private async verifyStored(hash: string): Promise<{ kind: 'ok' } | { kind: 'missing' } | { kind: 'damaged'; reason: string }> {
    const file = this.pathFor(hash);
    let st = await fs.lstat(file, { bigint: true }).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : e));
    if (st === undefined) return { kind: 'missing' };
    if (st instanceof Error) return { kind: 'damaged', reason: `it cannot be examined (${st.code ?? st.message})` };
    if (!st.isFile()) return { kind: 'damaged', reason: st.isSymbolicLink() ? 'it was replaced by a symbolic link' : 'it is not a regular file' };
    let now = identityOf(st);
    const known = this.checked.get(hash) ?? (await this.readRecord(hash));
    if (!known || !sameIdentity(known, now)) {
      this.rehashed++;
      let digest: FileDigest;
      try {
        digest = await sha256File(file);
      } catch (e) {
        return { kind: 'damaged', reason: `it cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
      }
      if (digest.sha256 !== hash) {
        const was = known ? `${known.size} bytes when it entered the store, ` : '';
        return { kind: 'damaged', reason: `${was}${digest.size} bytes now, with sha256 ${digest.sha256}` };
      }
    }
    if (Date.now() - Number(st.mtimeNs / 1_000_000n) > TOUCH_EVERY_MS) {
      const t = new Date();
      if (await fs.utimes(file, t, t).then(() => true, () => false)) {
        st = await fs.lstat(file, { bigint: true }).catch(() => st as import('node:fs').BigIntStats);
        now = identityOf(st);
      }
    }
    if (!known || !sameIdentity(known, now)) await this.writeRecord(hash, now);
    else this.checked.set(hash, now);
    return { kind: 'ok' };
  }

  /** Moves a damaged file out of its content address (so it is fetched again), or explains why it cannot. */
  private async discard(hash: string, label: string, reason: string): Promise<void> {
    const file = this.pathFor(hash);
    this.checked.delete(hash);
    try {
      await fs.rm(file, { force: true });
    } catch (e) {
      throw new DamagedStoreFileError(file, label, `${reason}, and it cannot be removed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    await fs.rm(this.recordPath(hash), { force: true }).catch(() => undefined);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await fs.stat(this.pathFor(sha256))).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Return the path of `sha256` in the store, calling `fetch(tmpPath)` to
   * produce it when missing. The fetched file is verified (hash, and size when
   * given) before it enters the store; on mismatch it is deleted and a
   * HashMismatchError names both hashes. A fetcher that hashed the bytes as it
   * wrote them (as `IndexClient.download` does) returns that digest, and the
   * store checks it instead of reading the file again; otherwise the store
   * hashes the file itself.
   */
  async ensure(
    sha256: string,
    fetch: (tmpPath: string) => Promise<FileDigest | void>,
    opts: { size?: number; label?: string; onDamaged?: (message: string) => void } = {},
  ): Promise<string> {
    const hash = this.check(sha256);
    const dest = this.pathFor(hash);
    const label = opts.label ?? hash;
    // Hold before looking, so a concurrent prune either sees the hold or removed the file first.
    await this.hold(hash);
    const found = await this.verifyStored(hash);
    if (found.kind === 'ok') return dest;
    if (found.kind === 'damaged') {
      await this.discard(hash, label, found.reason);
      opts.onDamaged?.(`The wheel store's copy of ${label} was damaged (${found.reason}); fetching it again.`);
    }
    await this.prepare();
    const release = await this.lock(hash, dest);
    try {
      if ((await this.verifyStored(hash)).kind === 'ok') return dest;
      const tmp = path.join(this.tmpDir, `${hash}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.part`);
      removeOnInterrupt(tmp);
      try {
        let written: FileDigest | void;
        try {
          written = await fetch(tmp);
        } catch (e) {
          throw storeWriteError(e, this.root, label) ?? storeWriteError((e as { cause?: unknown })?.cause, this.root, label) ?? e;
        }
        await this.verify(tmp, written || undefined, hash, opts);
        const fh = await fs.open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        try {
          await fs.chmod(tmp, 0o444);
          await fs.mkdir(path.dirname(dest), { recursive: true });
          await fs.rename(tmp, dest);
        } catch (e) {
          throw storeWriteError(e, this.root, label) ?? e;
        }
        await syncDir(path.dirname(dest));
        await this.writeRecord(hash, identityOf(await fs.lstat(dest, { bigint: true })));
      } finally {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        keepOnInterrupt(tmp);
      }
      return dest;
    } finally {
      await release();
    }
  }

  /** Every verified file in the store. */
  private async list(): Promise<StoredFile[]> {
    const base = path.join(this.root, 'wheels', 'sha256');
    const out: StoredFile[] = [];
    for (const prefix of await fs.readdir(base).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await fs.readdir(path.join(base, prefix)).catch(() => [] as string[])) {
        if (!HEX64.test(name) || !name.startsWith(prefix)) continue;
        const p = path.join(base, prefix, name);
        const st = await fs.stat(p).catch(() => undefined);
        if (st?.isFile()) out.push({ sha256: name, path: p, bytes: st.size, usedMs: st.mtimeMs });
      }
    }
    return out;
  }

  /**
   * Hashes held by running processes: the lease files of live processes, and
   * the per-hash locks of downloads under way. Leases of dead processes are removed.
   */
  async inUse(): Promise<Set<string>> {
    const held = new Set<string>();
    const host = os.hostname();
    for (const name of await fs.readdir(this.leaseDir).catch(() => [] as string[])) {
      const file = path.join(this.leaseDir, name);
      const first = name.indexOf('.');
      const last = name.lastIndexOf('.');
      const pid = Number(name.slice(0, first));
      const leaseHost = name.slice(first + 1, last);
      let live: boolean;
      if (leaseHost === host) live = Number.isInteger(pid) && pid > 0 && pidAlive(pid);
      else {
        // Another machine sharing the store: trust its lease for a day.
        const st = await fs.stat(file).catch(() => undefined);
        live = st !== undefined && Date.now() - st.mtimeMs < DAY_MS;
      }
      if (!live) {
        if (!liveLeases.has(file)) await fs.rm(file, { force: true }).catch(() => undefined);
        continue;
      }
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (HEX64.test(line)) held.add(line);
    }
    for (const name of await fs.readdir(path.join(this.root, 'locks')).catch(() => [] as string[])) {
      const m = /^([0-9a-f]{64})\.lock$/.exec(name);
      if (m && !(await this.isStale(path.join(this.root, 'locks', name)))) held.add(m[1]);
    }
    return held;
  }

  /** Size, count and location of the store. */
  async info(): Promise<StoreInfo> {
    const [files, held] = await Promise.all([this.list(), this.inUse()]);
    let tmpFiles = 0;
    let tmpBytes = 0;
    for (const name of await fs.readdir(this.tmpDir).catch(() => [] as string[])) {
      const st = await fs.stat(path.join(this.tmpDir, name)).catch(() => undefined);
      if (st?.isFile()) {
        tmpFiles++;
        tmpBytes += st.size;
      }
    }
    const used = files.map((f) => f.usedMs);
    return {
      root: this.root,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      tmpFiles,
      tmpBytes,
      inUse: files.filter((f) => held.has(f.sha256)).length,
      ...(files.length ? { oldest: new Date(Math.min(...used)), newest: new Date(Math.max(...used)) } : {}),
    };
  }

  /**
   * Remove files not used for `olderThanMs`, then the least recently used
   * ones until the store holds at most `maxBytes`. Files that a running build
   * holds are never removed: each victim is first moved out of its content
   * address, the holds are read again, and a file that became held in between
   * is put back. Leftover partial downloads older than a day go too.
   */
  async prune(opts: PruneOptions): Promise<PruneResult> {
    const now = opts.now ?? Date.now();
    const files = await this.list();
    const { removed: evicted, skippedInUse } = await evict(files, { ...opts, now }, {
      key: (f) => f.sha256,
      inUse: () => this.inUse(),
      moveAside: async (f) => {
        await fs.mkdir(this.tmpDir, { recursive: true });
        const trash = path.join(this.tmpDir, `${f.sha256}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.pruned`);
        try {
          await fs.rename(f.path, trash);
          return trash;
        } catch {
          return undefined; // Gone already, or not ours to move.
        }
      },
      putBack: async (f, trash) => {
        // A build took it meanwhile: put it back (unless it fetched it again already).
        await fs.link(trash, f.path).catch(() => undefined);
        await fs.rm(trash, { force: true });
      },
      discard: async (f, trash) => {
        await fs.rm(trash, { force: true });
        await fs.rm(this.recordPath(f.sha256), { force: true }).catch(() => undefined);
      },
    });
    const removed: PruneResult['removed'] = evicted.map((f) => ({ sha256: f.sha256, bytes: f.bytes }));
    if (!opts.dryRun) await this.removeOld(this.tmpDir, DAY_MS);
    const gone = new Set(removed.map((r) => r.sha256));
    const remaining = files.filter((f) => !gone.has(f.sha256));
    return {
      removed,
      freedBytes: removed.reduce((n, r) => n + r.bytes, 0),
      skippedInUse,
      remainingFiles: remaining.length,
      remainingBytes: remaining.reduce((n, f) => n + f.bytes, 0),
    };
  }

  /** Check `written` (or, when the fetcher gave none, the file's own digest) against the key. */
  private async verify(tmp: string, written: FileDigest | undefined, hash: string, opts: { size?: number; label?: string }): Promise<void> {
    const what = opts.label ?? hash;
    let actual: FileDigest;
    try {
      actual = written ?? (await sha256File(tmp));
    } catch (e) {
      throw new StoreError(`The download of ${what} produced no file in the store (${(e as Error).message}).`);
    }
    if (opts.size !== undefined && actual.size !== opts.size) {
      throw new IndexError(`${what} is ${actual.size} bytes, but the lock says ${opts.size}; it was not added to the store.`);
    }
    if (actual.sha256 !== hash) throw new HashMismatchError(what, hash, actual.sha256);
  }

  private async prepare(): Promise<void> {
    try {
      await fs.mkdir(this.tmpDir, { recursive: true });
      await fs.mkdir(path.dirname(this.lockPath(''.padEnd(64, '0'))), { recursive: true });
    } catch (e) {
      throw storeWriteError(e, this.root, 'files') ??
        new StoreError(`Cannot create the wheel store at ${this.root}: ${(e as Error).message}. Set NX_PEX_STORE to a writable directory.`);
    }
    if (!this.cleaned) {
      this.cleaned = true;
      await this.removeDead(this.tmpDir);
      await this.removeOld(this.tmpDir, DAY_MS);
    }
  }

  /** Partial downloads of processes on this host that are gone (killed): they are never resumed, so they go at once. */
  private async removeDead(dir: string): Promise<void> {
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      const m = TMP_NAME.exec(name);
      if (!m || m[1] !== HOST_TAG) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || pidAlive(pid)) continue;
      await fs.rm(path.join(dir, name), { force: true }).catch(() => undefined);
    }
  }

  /** Delete leftovers (from killed processes) older than `ageMs`. */
  private async removeOld(dir: string, ageMs: number): Promise<void> {
    const now = Date.now();
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, name);
      const st = await fs.stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > ageMs) await fs.rm(p, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Take the advisory lock for `hash`, waiting while a live holder downloads
   * it. Returns early when the file appears. Locks of dead processes (same
   * host) or locks not refreshed for LOCK_STALE_MS are taken over.
   */
  async lock(hash: string, dest: string): Promise<() => Promise<void>> {
    const lockFile = this.lockPath(hash);
    const me = `${process.pid}\n${os.hostname()}\n${randomBytes(6).toString('hex')}\n`;
    for (;;) {
      try {
        await fs.writeFile(lockFile, me, { flag: 'wx' });
        const timer = setInterval(() => {
          const now = new Date();
          fs.utimes(lockFile, now, now).catch(() => undefined);
        }, LOCK_REFRESH_MS);
        timer.unref();
        return async () => {
          clearInterval(timer);
          // Remove the lock only if it is still ours (it may have been taken over).
          const content = await fs.readFile(lockFile, 'utf8').catch(() => undefined);
          if (content === me) await fs.rm(lockFile, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          // The lock is an optimisation; without one, the atomic rename still keeps the store correct.
          return async () => undefined;
        }
      }
      if (await this.isStale(lockFile)) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      await sleep(LOCK_POLL_MS);
      if (await fileExists(dest)) return async () => undefined;
    }
  }

  private async isStale(lockFile: string): Promise<boolean> {
    const [content, st] = await Promise.all([
      fs.readFile(lockFile, 'utf8').catch(() => undefined),
      fs.stat(lockFile).catch(() => undefined),
    ]);
    if (content === undefined || !st) return false; // gone: the next attempt takes it
    const [pidText, host] = content.split('\n');
    const pid = Number(pidText);
    if (host === os.hostname() && Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) return true;
    // An empty lock file is one whose writer died between create and write.
    if (!content && Date.now() - st.mtimeMs > LOCK_REFRESH_MS) return true;
    return Date.now() - st.mtimeMs > LOCK_STALE_MS;
  }
}

async function fileExists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

