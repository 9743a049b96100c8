import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashMismatchError, IndexError } from '@nx-pex/index';
import { UserError } from '@nx-pex/pep';

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

async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
   * HashMismatchError names both hashes.
   */
  async ensure(
    sha256: string,
    fetch: (tmpPath: string) => Promise<void>,
    opts: { size?: number; label?: string } = {},
  ): Promise<string> {
    const hash = this.check(sha256);
    const dest = this.pathFor(hash);
    if (await this.has(hash)) return dest;
    await this.prepare();
    const release = await this.lock(hash, dest);
    try {
      if (await this.has(hash)) return dest;
      const tmp = path.join(this.tmpDir, `${hash}.${process.pid}.${randomBytes(6).toString('hex')}.part`);
      try {
        await fetch(tmp);
        await this.verify(tmp, hash, opts);
        const fh = await fs.open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fs.chmod(tmp, 0o444);
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await fs.rename(tmp, dest);
        await syncDir(path.dirname(dest));
      } finally {
        await fs.rm(tmp, { force: true });
      }
      return dest;
    } finally {
      await release();
    }
  }

  private async verify(tmp: string, hash: string, opts: { size?: number; label?: string }): Promise<void> {
    const what = opts.label ?? hash;
    let actual: { sha256: string; size: number };
    try {
      actual = await sha256File(tmp);
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
      throw new StoreError(`Cannot create the wheel store at ${this.root}: ${(e as Error).message}. Set NX_PEX_STORE to a writable directory.`);
    }
    if (!this.cleaned) {
      this.cleaned = true;
      await this.removeOld(this.tmpDir, DAY_MS);
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
  private async lock(hash: string, dest: string): Promise<() => Promise<void>> {
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

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}
