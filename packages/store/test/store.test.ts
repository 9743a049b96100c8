import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HashMismatchError } from '@nx-pex/index';
import { defaultStoreRoot, WheelStore } from '@nx-pex/store';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'store-'));
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('defaultStoreRoot', () => {
  it('prefers NX_PEX_STORE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultStoreRoot({ NX_PEX_STORE: '/s', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/s');
    expect(defaultStoreRoot({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/nx-pex');
    expect(defaultStoreRoot({ XDG_CACHE_HOME: ' ', HOME: '/h' })).toBe('/h/.cache/nx-pex');
  });
});

describe('WheelStore', () => {
  const content = Buffer.from('wheel bytes');
  const hash = sha(content);

  it('addresses files by content', () => {
    const store = new WheelStore(tmp);
    expect(store.pathFor(hash)).toBe(path.join(tmp, 'wheels', 'sha256', hash.slice(0, 2), hash));
    expect(() => store.pathFor('abc')).toThrow(/Not a sha256/);
  });

  it('adds a verified file once, read-only, and does not fetch it again', async () => {
    const store = new WheelStore(tmp);
    let calls = 0;
    const fetch = async (p: string) => {
      calls++;
      expect(path.dirname(p)).toBe(path.join(tmp, 'tmp'));
      await fs.writeFile(p, content);
    };
    expect(await store.has(hash)).toBe(false);
    const p = await store.ensure(hash, fetch, { size: content.length });
    expect(p).toBe(store.pathFor(hash));
    expect(await fs.readFile(p)).toEqual(content);
    expect((await fs.stat(p)).mode & 0o222).toBe(0);
    expect(await store.ensure(hash.toUpperCase(), fetch)).toBe(p);
    expect(calls).toBe(1);
    expect(await fs.readdir(path.join(tmp, 'tmp'))).toEqual([]);
    expect(await fs.readdir(path.join(tmp, 'locks'))).toEqual([]);
  });

  it('keeps a mismatching file out of the store', async () => {
    const store = new WheelStore(tmp);
    const e = await store.ensure(hash, (p) => fs.writeFile(p, 'something else'), { label: 'x-1.0-py3-none-any.whl' }).catch((x) => x);
    expect(e).toBeInstanceOf(HashMismatchError);
    expect(e.message).toContain('x-1.0-py3-none-any.whl');
    expect(e.message).toContain(hash);
    expect(e.message).toContain(sha('something else'));
    expect(await store.has(hash)).toBe(false);
    expect(await fs.readdir(path.join(tmp, 'tmp'))).toEqual([]);
    await expect(store.ensure(hash, (p) => fs.writeFile(p, content), { size: 3 })).rejects.toThrow(/is 11 bytes, but the lock says 3/);
    expect(await store.has(hash)).toBe(false);
  });

  it('checks the digest a fetcher reports for what it wrote', async () => {
    const store = new WheelStore(tmp);
    const wrong = await store
      .ensure(hash, async (p) => {
        await fs.writeFile(p, content);
        return { sha256: sha('other'), size: content.length };
      })
      .catch((x) => x);
    expect(wrong).toBeInstanceOf(HashMismatchError);
    expect(wrong.message).toContain(sha('other'));
    await expect(
      store.ensure(hash, async (p) => {
        await fs.writeFile(p, content);
        return { sha256: hash, size: 3 };
      }, { size: content.length }),
    ).rejects.toThrow(/is 3 bytes, but the lock says 11/);
    expect(await store.has(hash)).toBe(false);
    const p = await store.ensure(hash, async (t) => {
      await fs.writeFile(t, content);
      return { sha256: hash, size: content.length };
    });
    expect(await fs.readFile(p)).toEqual(content);
  });

  it('cleans up after a failing fetch', async () => {
    const store = new WheelStore(tmp);
    await expect(
      store.ensure(hash, async (p) => {
        await fs.writeFile(p, 'partial');
        throw new Error('network down');
      }),
    ).rejects.toThrow('network down');
    expect(await fs.readdir(path.join(tmp, 'tmp'))).toEqual([]);
    expect(await store.has(hash)).toBe(false);
  });

  it('removes temp files older than a day', async () => {
    await fs.mkdir(path.join(tmp, 'tmp'), { recursive: true });
    const old = path.join(tmp, 'tmp', 'old.part');
    const fresh = path.join(tmp, 'tmp', 'fresh.part');
    await fs.writeFile(old, 'x');
    await fs.writeFile(fresh, 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
    await fs.utimes(old, twoDaysAgo, twoDaysAgo);
    await new WheelStore(tmp).ensure(hash, (p) => fs.writeFile(p, content));
    expect(await fs.readdir(path.join(tmp, 'tmp'))).toEqual(['fresh.part']);
  });

  it('is not blocked by the lock of a dead process', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    await fs.mkdir(path.join(tmp, 'locks'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'locks', `${hash}.lock`), `${deadPid}\n${os.hostname()}\nabc\n`);
    const started = Date.now();
    await new WheelStore(tmp).ensure(hash, (p) => fs.writeFile(p, content));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('lets concurrent callers for one hash share a single fetch', async () => {
    const a = new WheelStore(tmp);
    const b = new WheelStore(tmp);
    let calls = 0;
    const slow = async (p: string) => {
      calls++;
      await new Promise((r) => setTimeout(r, 300));
      await fs.writeFile(p, content);
    };
    const [pa, pb] = await Promise.all([a.ensure(hash, slow), b.ensure(hash, slow)]);
    expect(pa).toBe(pb);
    expect(calls).toBe(1);
    expect(sha(await fs.readFile(pa))).toBe(hash);
  });
});
