import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_INDEX_URL, defaultIndexConfig, HashMismatchError, IndexClient, IndexConfig } from '@nx-pex/index';
import { ArtifactNotFoundError, ArtifactRequest, fetchArtifacts, WheelStore } from '@nx-pex/store';
import { FixtureFile, IndexServer, startIndexServer, writeFixtureWheel } from '@nx-pex/index-server';

const ROOT = path.resolve(__dirname, '../../..');
let tmp: string;
let wheels: string;
let server: IndexServer;
let files: FixtureFile[];
let big: FixtureFile;
const clients: IndexClient[] = [];

const filesBase = () => server.url.replace('/simple', '/files/');
const req = (f: FixtureFile, over: Partial<ArtifactRequest> = {}): ArtifactRequest => ({
  project: f.filename.split('-')[0],
  version: f.filename.split('-')[1],
  filename: f.filename,
  sha256: f.sha256,
  size: f.size,
  url: `${filesBase()}${f.filename}`,
  registry: DEFAULT_INDEX_URL,
  ...over,
});
const setup = (over: Partial<IndexConfig> = {}, storeDir = path.join(tmp, 'store')) => {
  const config = { ...defaultIndexConfig(), ...over };
  const client = new IndexClient(config, { retryDelayMs: 10 });
  clients.push(client);
  return { config, client, store: new WheelStore(storeDir) };
};
const paths = (from: number) => server.requests.slice(from).map((r) => r.path);

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fetch-'));
  wheels = path.join(tmp, 'wheels');
  files = [
    await writeFixtureWheel(wheels, { name: 'alpha', version: '1.0' }),
    await writeFixtureWheel(wheels, { name: 'beta', version: '2.0' }),
    await writeFixtureWheel(wheels, { name: 'gamma', version: '3.0' }),
  ];
  big = await writeFixtureWheel(wheels, { name: 'big', version: '1.0', padBytes: 400_000 });
  server = await startIndexServer({ dir: wheels });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server.faults.clear();
  await fs.rm(path.join(tmp, 'store'), { recursive: true, force: true });
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('fetchArtifacts source rule', () => {
  it('uses the lock URL directly when pip is configured with the default index', async () => {
    const { config, client, store } = setup();
    const before = server.requests.length;
    const lines: string[] = [];
    const out = await fetchArtifacts(files.map((f) => req(f)), { store, client, config, log: (l) => lines.push(l) });
    expect([...out.keys()].sort()).toEqual(files.map((f) => f.sha256).sort());
    for (const f of files) expect(createHash('sha256').update(await fs.readFile(out.get(f.sha256)!)).digest('hex')).toBe(f.sha256);
    expect(paths(before).sort()).toEqual(files.map((f) => `/files/${f.filename}`).sort());
    expect(lines.some((l) => l.includes('Downloading alpha-1.0'))).toBe(true);
    // Already stored: nothing is asked again.
    const again = server.requests.length;
    await fetchArtifacts(files.map((f) => req(f)), { store, client, config });
    expect(server.requests.length).toBe(again);
  });

  it('looks locked PyPI files up in a configured mirror instead of the lock URL', async () => {
    const { config, client, store } = setup({ indexUrl: server.url });
    const before = server.requests.length;
    const r = req(files[0], { url: 'http://127.0.0.1:9/unreachable/alpha-1.0-py3-none-any.whl' });
    const out = await fetchArtifacts([r, req(files[1], { registry: undefined, url: undefined })], { store, client, config });
    expect(out.size).toBe(2);
    expect(paths(before).sort()).toEqual(['/simple/alpha/', '/simple/beta/', `/files/${files[0].filename}`, `/files/${files[1].filename}`].sort());
  });

  it('uses the lock URL without any index page when the lock names another registry', async () => {
    const { config, client, store } = setup({ indexUrl: 'http://127.0.0.1:9/mirror/simple' });
    const before = server.requests.length;
    await fetchArtifacts([req(files[2], { registry: server.url })], { store, client, config });
    expect(paths(before)).toEqual([`/files/${files[2].filename}`]);
  });

  it('prefers a find-links location that has the file', async () => {
    const { config, client, store } = setup({ indexUrl: server.url, findLinks: [wheels] });
    const before = server.requests.length;
    const lines: string[] = [];
    await fetchArtifacts(files.map((f) => req(f)), { store, client, config, log: (l) => lines.push(l) });
    expect(paths(before)).toEqual([]);
    expect(lines.filter((l) => l.includes(pathToFileURL(wheels).href))).toHaveLength(3);
  });

  it('names project, filename and every location tried when no source has the file', async () => {
    const { config, client, store } = setup({ indexUrl: server.url, extraIndexUrls: [`${server.url}-extra`], findLinks: [path.join(tmp, 'empty')] });
    const missing: ArtifactRequest = { project: 'delta', version: '1.0', filename: 'delta-1.0-py3-none-any.whl', sha256: 'd'.repeat(64) };
    const e = await fetchArtifacts([missing], { store, client, config }).catch((x) => x);
    expect(e).toBeInstanceOf(ArtifactNotFoundError);
    expect(e.message).toContain('delta-1.0-py3-none-any.whl (delta)');
    for (const loc of [server.url, `${server.url}-extra`, path.join(tmp, 'empty')]) expect(e.message).toContain(loc);
  });

  it('verifies the lock hash for every download and leaves nothing in the store on mismatch', async () => {
    const { config, client, store } = setup();
    const wrong = 'e'.repeat(64);
    const e = await fetchArtifacts([req(files[0], { sha256: wrong })], { store, client, config }).catch((x) => x);
    expect(e).toBeInstanceOf(HashMismatchError);
    expect(e.message).toContain(wrong);
    expect(e.message).toContain(files[0].sha256);
    expect(await store.has(wrong)).toBe(false);
    expect(await fs.readdir(path.join(store.root, 'tmp'))).toEqual([]);
    await expect(fs.readdir(path.join(store.root, 'wheels', 'sha256', 'ee'))).rejects.toThrow();
  });

  it('two fetches at once on one store both succeed with one verified copy', async () => {
    server.faults.set(`/files/${big.filename}`, { kind: 'slow', chunkBytes: 64 * 1024, delayMs: 30 });
    const a = setup();
    const b = setup();
    const before = server.requests.length;
    const all = [...files, big].map((f) => req(f));
    const [ra, rb] = await Promise.all([
      fetchArtifacts(all, { store: a.store, client: a.client, config: a.config }),
      fetchArtifacts([...all].reverse(), { store: b.store, client: b.client, config: b.config }),
    ]);
    expect(ra).toEqual(rb);
    for (const f of [...files, big]) expect(createHash('sha256').update(await fs.readFile(ra.get(f.sha256)!)).digest('hex')).toBe(f.sha256);
    expect(paths(before).filter((p) => p === `/files/${big.filename}`)).toHaveLength(1);
    expect(await fs.readdir(path.join(a.store.root, 'tmp'))).toEqual([]);
  });
});

describe('a build killed mid-download', () => {
  beforeAll(() => {
    // The child process runs the compiled packages.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/store'], { cwd: ROOT, stdio: 'pipe' });
  }, 120_000);

  it('leaves the store valid, and the next run succeeds', async () => {
    server.faults.set(`/files/${big.filename}`, { kind: 'slow', chunkBytes: 16 * 1024, delayMs: 50 });
    const storeDir = path.join(tmp, 'store');
    const script = `
      const { IndexClient, defaultIndexConfig } = require(${JSON.stringify(path.join(ROOT, 'packages/index'))});
      const { WheelStore, fetchArtifacts } = require(${JSON.stringify(path.join(ROOT, 'packages/store'))});
      const config = defaultIndexConfig();
      fetchArtifacts(JSON.parse(process.argv[1]), { store: new WheelStore(process.argv[2]), client: new IndexClient(config), config })
        .then(() => console.log('done'), (e) => { console.error(e.message); process.exit(1); });
    `;
    const child = spawn(process.execPath, ['-e', script, JSON.stringify([req(big)]), storeDir], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
    // Wait until part of the file is on disk, then kill the process hard.
    const tmpDir = path.join(storeDir, 'tmp');
    for (let i = 0; ; i++) {
      const parts = await fs.readdir(tmpDir).catch(() => [] as string[]);
      const sizes = await Promise.all(parts.map((p) => fs.stat(path.join(tmpDir, p)).then((s) => s.size, () => 0)));
      if (sizes.some((s) => s > 0)) break;
      if (i > 200) throw new Error(`child never started downloading: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const store = new WheelStore(storeDir);
    expect(await store.has(big.sha256)).toBe(false); // no partial file at the content address
    expect(await fs.readdir(path.join(storeDir, 'locks'))).toEqual([`${big.sha256}.lock`]); // the dead process's lock remains

    server.faults.clear();
    const { config, client } = setup({}, storeDir);
    const started = Date.now();
    const out = await fetchArtifacts([req(big)], { store, client, config });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(createHash('sha256').update(await fs.readFile(out.get(big.sha256)!)).digest('hex')).toBe(big.sha256);
    expect(await fs.readdir(path.join(storeDir, 'locks'))).toEqual([]);
  });
});
