/**
 * A store file is trusted only while it is what entered the store: a truncated file, a flipped
 * byte (even with its mtime put back), a file swapped for a symlink are noticed before use and
 * fetched again (or, offline, reported naming the file and the repair); an unchanged file is
 * not read again.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DamagedStoreFileError, WheelStore } from '@nx-pex/store';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'store-integrity-'));
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

const content = Buffer.from('wheel bytes '.repeat(1000));
const hash = createHash('sha256').update(content).digest('hex');
const label = 'demo-1.0-py3-none-any.whl';

async function filled(): Promise<{ store: WheelStore; file: string; fetches: () => number }> {
  let n = 0;
  const store = new WheelStore(tmp);
  const file = await store.ensure(hash, async (p) => {
    n++;
    await fs.writeFile(p, content);
  });
  return { store, file, fetches: () => n };
}

/** The same store, as the next build (another process) sees it. */
function again(onDamaged?: (m: string) => void) {
  const store = new WheelStore(tmp);
  let fetched = 0;
  const ensure = () =>
    store.ensure(
      hash,
      async (p) => {
        fetched++;
        await fs.writeFile(p, content);
      },
      { size: content.length, label, onDamaged },
    );
  return { store, ensure, fetched: () => fetched };
}

async function damage(file: string, how: 'truncate' | 'flip' | 'zero' | 'symlink'): Promise<void> {
  await fs.chmod(file, 0o644);
  if (how === 'truncate') await fs.truncate(file, 100);
  else if (how === 'symlink') {
    const elsewhere = path.join(tmp, 'elsewhere.whl');
    await fs.writeFile(elsewhere, Buffer.alloc(content.length, 1));
    await fs.rm(file);
    await fs.symlink(elsewhere, file);
  } else {
    const before = await fs.stat(file);
    const bytes = await fs.readFile(file);
    if (how === 'flip') bytes[500] = bytes[500]! ^ 0x01;
    else bytes.fill(0, 200, 400);
    await fs.writeFile(file, bytes);
    // Put the timestamps back, as a careless restore would: the ctime still tells.
    await fs.utimes(file, before.atime, before.mtime);
  }
}

describe('a damaged store file', () => {
  it.each(['truncate', 'flip', 'zero', 'symlink'] as const)('is noticed and fetched again (%s)', async (how) => {
    const { file } = await filled();
    await damage(file, how);
    const messages: string[] = [];
    const next = again((m) => messages.push(m));
    const p = await next.ensure();
    expect(p).toBe(file);
    expect(next.fetched()).toBe(1);
    expect((await fs.lstat(p)).isFile()).toBe(true);
    expect(await fs.readFile(p)).toEqual(content);
    expect(messages.join('\n')).toMatch(new RegExp(`${label.replace(/\./g, '\\.')} was damaged .*fetching it again`));
    // Fetched again, it is trusted again without being read.
    const third = again();
    await third.ensure();
    expect(third.fetched()).toBe(0);
    expect(third.store.rehashed).toBe(0);
  });

  it('offline, is an error naming the file and the repair, and is removed', async () => {
    const { file } = await filled();
    await damage(file, 'flip');
    const err = await new WheelStore(tmp).get(hash, { label }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DamagedStoreFileError);
    expect((err as Error).message).toContain(label);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/Build once online/);
    await expect(fs.lstat(file)).rejects.toThrow(/ENOENT/);
  });
});

describe('an unchanged store file', () => {
  it('is not read again by later builds (size and identity only)', async () => {
    await filled();
    for (let i = 0; i < 3; i++) {
      const next = again();
      await next.ensure();
      expect(await next.store.get(hash)).toBeDefined();
      expect(next.store.rehashed).toBe(0);
      expect(next.fetched()).toBe(0);
      expect(next.store.identityOf(hash)?.size).toBe(content.length);
    }
  });

  it('of a store without records is verified once, then trusted', async () => {
    const { file } = await filled();
    await fs.rm(path.join(tmp, 'records'), { recursive: true });
    const first = again();
    await first.ensure();
    expect(first.store.rehashed).toBe(1);
    expect(first.fetched()).toBe(0);
    const second = again();
    await second.ensure();
    expect(second.store.rehashed).toBe(0);
    expect(await fs.readFile(file)).toEqual(content);
  });

  it('whose use was recorded long ago (mtime) is verified by its content, not refetched', async () => {
    const { file } = await filled();
    const old = new Date(Date.now() - 3 * 86_400_000);
    await fs.utimes(file, old, old);
    const next = again();
    await next.ensure();
    expect(next.fetched()).toBe(0);
    expect(next.store.rehashed).toBe(1);
    // The use is recorded: prune sees it as used now.
    expect(Date.now() - (await fs.stat(file)).mtimeMs).toBeLessThan(60_000);
  });
});
