import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yazl from 'yazl';
import { defaultIndexConfig, IndexClient } from '@nx-pex/index';
import {
  ArtifactRequest,
  BadArchiveError,
  createProgressReporter,
  fetchArtifacts,
  isSafeEntryName,
  OfflineMissingError,
  offlineFromEnv,
  WheelStore,
} from '@nx-pex/store';
import { FixtureFile, IndexServer, startIndexServer, writeFixtureWheel } from '@nx-pex/index-server';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const DAY = 86_400_000;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'store-prune-'));
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

async function put(store: WheelStore, content: string, daysAgo: number): Promise<string> {
  const h = sha(content);
  const p = await store.ensure(h, (t) => fs.writeFile(t, content));
  const when = new Date(Date.now() - daysAgo * DAY);
  await fs.utimes(p, when, when);
  return h;
}

describe('info and prune', () => {
  it('reports location, count and size, and prunes by age, then by size, least recently used first', async () => {
    const writer = new WheelStore(tmp);
    const a = await put(writer, 'a'.repeat(1000), 40);
    const b = await put(writer, 'b'.repeat(2000), 20);
    const c = await put(writer, 'c'.repeat(3000), 10);
    const d = await put(writer, 'd'.repeat(4000), 1);
    await writer.release();
    const store = new WheelStore(tmp);
    const info = await store.info();
    expect(info).toMatchObject({ root: tmp, files: 4, bytes: 10_000, inUse: 0, tmpFiles: 0 });
    expect(info.oldest!.getTime()).toBeLessThan(info.newest!.getTime());

    const dry = await store.prune({ olderThanMs: 30 * DAY, dryRun: true });
    expect(dry.removed.map((r) => r.sha256)).toEqual([a]);
    expect(await store.has(a)).toBe(true);

    const byAge = await store.prune({ olderThanMs: 30 * DAY });
    expect(byAge).toMatchObject({ removed: [{ sha256: a, bytes: 1000 }], freedBytes: 1000, remainingFiles: 3, remainingBytes: 9000 });
    expect(await store.has(a)).toBe(false);

    const bySize = await store.prune({ maxBytes: 5000 });
    expect(bySize.removed.map((r) => r.sha256)).toEqual([b, c]);
    expect(await store.has(d)).toBe(true);
    expect((await store.info()).bytes).toBe(4000);
  });

  it('a use refreshes the age that prune goes by', async () => {
    const store = new WheelStore(tmp);
    const h = await put(store, 'x', 100);
    await store.release();
    await new WheelStore(tmp).ensure(h, () => Promise.reject(new Error('must not fetch')));
    const r = await new WheelStore(tmp).prune({ olderThanMs: 30 * DAY });
    expect(r.removed).toEqual([]);
  });

  it('never removes a file held by a running build, and removes it once that build is gone', async () => {
    const store = new WheelStore(tmp);
    const held = await put(store, 'held', 90);
    const free = await put(store, 'free', 90);
    await store.release();
    // Another process takes `held` from the store and keeps running.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/store'], { cwd: ROOT, stdio: 'pipe' });
    const script = `
      const { WheelStore } = require(${JSON.stringify(path.join(ROOT, 'packages/store'))});
      new WheelStore(process.argv[1]).get(process.argv[2]).then((p) => { console.log(p ? 'held' : 'missing'); setInterval(() => {}, 1000); });
    `;
    const child = spawn(process.execPath, ['-e', script, tmp, held], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', (d) => (String(d).trim() === 'held' ? resolve() : reject(new Error(String(d)))));
      });
      expect((await store.info()).inUse).toBe(1);
      // Taking it marked it used just now; make it look old, so only the hold protects it.
      const old = new Date(Date.now() - 90 * DAY);
      await fs.utimes(store.pathFor(held), old, old);
      const r = await store.prune({ olderThanMs: DAY });
      expect(r.removed.map((x) => x.sha256)).toEqual([free]);
      expect(r.skippedInUse).toBe(1);
      expect(await store.has(held)).toBe(true);
      const bySize = await store.prune({ maxBytes: 0 });
      expect(bySize.removed).toEqual([]);
      expect(await store.has(held)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
    }
    // A killed holder's lease no longer counts.
    const after = await store.prune({ olderThanMs: DAY });
    expect(after.removed.map((x) => x.sha256)).toEqual([held]);
    expect(await fs.readdir(path.join(tmp, 'leases'))).toEqual([]);
  });

  it('holds what this process took until release()', async () => {
    const store = new WheelStore(tmp);
    const h = await put(store, 'mine', 90);
    expect((await new WheelStore(tmp).prune({ olderThanMs: DAY })).skippedInUse).toBe(1);
    await store.release();
    expect((await new WheelStore(tmp).prune({ olderThanMs: DAY })).removed.map((r) => r.sha256)).toEqual([h]);
  });

  it('removes partial downloads older than a day', async () => {
    await fs.mkdir(path.join(tmp, 'tmp'), { recursive: true });
    const old = path.join(tmp, 'tmp', 'x.part');
    await fs.writeFile(old, 'partial');
    expect((await new WheelStore(tmp).info()).tmpFiles).toBe(1);
    const when = new Date(Date.now() - 2 * DAY);
    await fs.utimes(old, when, when);
    await new WheelStore(tmp).prune({ maxBytes: 1e9 });
    expect(await fs.readdir(path.join(tmp, 'tmp'))).toEqual([]);
  });
});

/** A zip whose entry names may hold `..` (yazl refuses them, so they are patched in afterwards). */
async function zipFile(dir: string, name: string, entries: Record<string, string>): Promise<{ filename: string; path: string; sha256: string; size: number }> {
  const zip = new yazl.ZipFile();
  const patches: [string, string][] = [];
  for (const [n, c] of Object.entries(entries)) {
    const safe = n.replace(/\.\./g, 'zz');
    if (safe !== n) patches.push([safe, n]);
    zip.addBuffer(Buffer.from(c), safe, { mtime: new Date(1980, 0, 1) });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  let data = Buffer.concat(chunks);
  for (const [from, to] of patches) data = Buffer.from(data.toString('latin1').split(from).join(to), 'latin1');
  const p = path.join(dir, name);
  await fs.writeFile(p, data);
  return { filename: name, path: p, sha256: sha(data), size: data.length };
}

describe('fetchArtifacts: offline, archives, progress', () => {
  let server: IndexServer;
  let wheels: string;
  let good: FixtureFile;
  let big: FixtureFile;
  const req = (f: { filename: string; sha256: string; size: number }, project = f.filename.split('-')[0]): ArtifactRequest => ({
    project,
    version: '1.0',
    filename: f.filename,
    sha256: f.sha256,
    size: f.size,
    url: `${server.url.replace('/simple', '/files/')}${f.filename}`,
    registry: server.url,
  });
  const setup = (store = path.join(tmp, 'store')) => {
    const config = { ...defaultIndexConfig(), indexUrl: 'http://127.0.0.1:9/unused' };
    const client = new IndexClient(config, { retryDelayMs: 10, env: {} });
    return { config, client, store: new WheelStore(store) };
  };
  beforeAll(async () => {
    wheels = await fs.mkdtemp(path.join(os.tmpdir(), 'store-fetch-'));
    good = await writeFixtureWheel(wheels, { name: 'goodpkg', version: '1.0' });
    big = await writeFixtureWheel(wheels, { name: 'bigpkg', version: '1.0', padBytes: 150_000 });
    server = await startIndexServer({ dir: wheels });
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(wheels, { recursive: true, force: true });
  });

  it('offline: serves from the store, and names every missing file at once', async () => {
    const s = setup();
    await fetchArtifacts([req(good)], s);
    await s.client.close();
    const before = server.requests.length;
    const off = setup();
    const out = await fetchArtifacts([req(good)], { ...off, offline: true });
    expect(out.get(good.sha256)).toBe(off.store.pathFor(good.sha256));
    const e = await fetchArtifacts([req(good), req(big), { ...req(good), filename: 'third-2.0-py3-none-any.whl', project: 'third', sha256: 'c'.repeat(64) }], {
      ...off,
      offline: true,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(OfflineMissingError);
    expect(e.message).toContain(`2 locked files are not in the wheel store ${off.store.root}`);
    expect(e.message).toContain(`${big.filename} (bigpkg 1.0, sha256 ${big.sha256})`);
    expect(e.message).toContain('third-2.0-py3-none-any.whl');
    expect(e.message).not.toContain(good.filename);
    expect(server.requests.length).toBe(before);
    await off.client.close();
    expect(offlineFromEnv({ NX_PEX_OFFLINE: '1' })).toBe(true);
    expect(offlineFromEnv({ NX_PEX_OFFLINE: 'true' })).toBe(true);
    expect(offlineFromEnv({ NX_PEX_OFFLINE: '0' })).toBe(false);
    expect(offlineFromEnv({})).toBe(false);
  });

  it('a wheel that is not a zip, or whose entry escapes its directory, never enters the store', async () => {
    const notZip = path.join(wheels, 'notzip-1.0-py3-none-any.whl');
    await fs.writeFile(notZip, 'this is not a zip archive at all');
    const nz = { filename: path.basename(notZip), sha256: sha('this is not a zip archive at all'), size: 32 };
    const evil = await zipFile(wheels, 'evil-1.0-py3-none-any.whl', { 'evil/__init__.py': '', '../../outside.py': 'x = 1' });
    const s = setup();
    for (const [f, why] of [
      [nz, /is not a zip archive/],
      [evil, /entry "\.\.\/\.\.\/outside\.py" would be written outside/],
    ] as const) {
      const e = await fetchArtifacts([req(f)], s).catch((x) => x);
      expect(e).toBeInstanceOf(BadArchiveError);
      expect(e.message).toMatch(why);
      expect(e.message).toContain(f.filename);
      expect(e.message).toContain(`${server.url.replace('/simple', '/files/')}${f.filename}`);
      expect(await s.store.has(f.sha256)).toBe(false);
    }
    expect(await fs.readdir(path.join(s.store.root, 'tmp'))).toEqual([]);
    await s.client.close();
    expect(isSafeEntryName('pkg/mod.py')).toBe(true);
    for (const bad of ['/etc/passwd', 'a/../../b', 'C:/x', 'a\\b', '..']) expect(isSafeEntryName(bad)).toBe(false);
  });

  it('reports progress: one line per file in line mode, an updating line on a terminal', async () => {
    const lines: string[] = [];
    const s = setup();
    await fetchArtifacts([req(good), req(big)], { ...s, progress: createProgressReporter({ tty: false, write: (t) => lines.push(t) }) });
    await s.client.close();
    expect(lines.filter((l) => /^Downloaded (goodpkg|bigpkg)-1\.0-py3-none-any\.whl \([\d.]+ (B|KiB) in [\d.]+ s\)\n$/.test(l))).toHaveLength(2);
    expect(lines[lines.length - 1]).toMatch(/^Downloaded 2 of 2 files \([\d.]+ KiB\) in [\d.]+ s\n$/);

    let t = 0;
    const out: string[] = [];
    const tty = createProgressReporter({ tty: true, write: (x) => out.push(x), now: () => t, intervalMs: 0 });
    tty.start('a.whl', 2048);
    t = 1000;
    tty.advance('a.whl', 1024);
    expect(out[out.length - 1]).toBe('\r\x1b[KDownloading wheels: 0/1 files, 1.0 KiB of 2.0 KiB, 1.0 KiB/s');
    tty.advance('a.whl', 1024);
    tty.done('a.whl', true);
    tty.finish();
    expect(out[out.length - 1]).toMatch(/^\r\x1b\[KDownloaded 1 of 1 files \(2\.0 KiB\) in 1\.0 s\n$/);
    expect(out.every((x) => !x.includes('http'))).toBe(true);
  });
});
