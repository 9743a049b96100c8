/**
 * Core metadata kept in the store by the distribution file's sha256: a second resolution reads no
 * `.metadata` file, a metadata file that is not what the index's hash says is rejected (and a kept
 * one that is not is fetched again), and a damaged entry is fetched again, never an error.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { abbreviatedPlatform } from '@nx-pex/pep';
import { defaultIndexConfig, HashMismatchError, IndexClient } from '@nx-pex/index';
import { MetadataCache, StoreHttpCache } from '@nx-pex/store';
import { resolve } from '@nx-pex/resolver';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';

let tmp: string;
let store: string;
let server: IndexServer;
let alpha: FixtureFile;
const target = abbreviatedPlatform('linux_x86_64-cp-312-cp312');
const clients: IndexClient[] = [];

const metadataPath = `/files/alpha-2.0-py3-none-any.whl.metadata`;
const metadataRequests = () => server.requests.filter((r) => r.path === metadataPath).length;
const ALPHA_METADATA = 'Metadata-Version: 2.1\nName: alpha\nVersion: 2.0\n\n';

/** One resolution as a new process would run it (a new client: nothing in memory). */
async function resolveAlpha(cache = new MetadataCache(store)) {
  const client = new IndexClient({ ...defaultIndexConfig(), indexUrl: server.url }, { retries: 0, httpCache: new StoreHttpCache(store) });
  clients.push(client);
  try {
    const r = await resolve(['alpha'], { client, target, metadataCache: cache });
    return r.packages.map((p) => `${p.name}==${p.version}`);
  } finally {
    await client.close();
  }
}

async function entries(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(path.join(store, 'metadata'));
  return out;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'metadata-cache-'));
  const wheels = path.join(tmp, 'wheels');
  await writeFixtureWheel(wheels, { name: 'alpha', version: '1.0' });
  alpha = await writeFixtureWheel(wheels, { name: 'alpha', version: '2.0' });
  server = await startIndexServer({ dir: wheels });
});

beforeEach(async () => {
  store = await fs.mkdtemp(path.join(tmp, 'store-'));
  server.requests.length = 0;
  server.faults.clear();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

it('a second resolution reads the metadata from the store, by the wheel\'s sha256', async () => {
  expect(await resolveAlpha()).toEqual(['alpha==2.0']);
  expect(metadataRequests()).toBe(1);
  expect(await resolveAlpha()).toEqual(['alpha==2.0']);
  expect(metadataRequests()).toBe(1);
  expect((await entries()).map((e) => path.relative(store, e))).toEqual([path.join('metadata', 'file-sha256', alpha.sha256.slice(0, 2), alpha.sha256)]);
});

it('without a metadata cache every resolution reads the metadata file', async () => {
  const client = () => {
    const c = new IndexClient({ ...defaultIndexConfig(), indexUrl: server.url }, { retries: 0 });
    clients.push(c);
    return c;
  };
  await resolve(['alpha'], { client: client(), target });
  await resolve(['alpha'], { client: client(), target });
  expect(metadataRequests()).toBe(2);
  expect(await entries()).toEqual([]);
});

it('rejects a metadata file whose sha256 is not the one the index gives, and keeps nothing', async () => {
  const forged = 'Metadata-Version: 2.1\nName: alpha\nVersion: 2.0\nRequires-Dist: evil\n\n';
  server.faults.set(metadataPath, { kind: 'body', body: Buffer.from(forged) });
  const e = await resolveAlpha().catch((x: unknown) => x);
  expect(e).toBeInstanceOf(HashMismatchError);
  const want = createHash('sha256').update(ALPHA_METADATA).digest('hex');
  expect((e as Error).message).toContain(want);
  expect((e as Error).message).toContain(createHash('sha256').update(forged).digest('hex'));
  expect(await entries()).toEqual([]);
});

it('fetches again a kept entry that is not what the index\'s metadata hash says', async () => {
  // Kept under the wheel's hash, but not the metadata the index vouches for.
  const wrong = new MetadataCache(store);
  await wrong.put({ fileSha256: alpha.sha256 }, Buffer.from('Metadata-Version: 2.1\nName: alpha\nVersion: 2.0\nRequires-Dist: no-such-project\n\n'));
  await wrong.flush();
  expect(await resolveAlpha()).toEqual(['alpha==2.0']);
  expect(metadataRequests()).toBe(1);
  expect(await new MetadataCache(store).get({ fileSha256: alpha.sha256 })).toEqual(Buffer.from(ALPHA_METADATA));
});

it.each([
  ['truncated', (b: Buffer) => b.subarray(0, b.length - 4)],
  ['overwritten', () => Buffer.from('garbage')],
])('fetches again a %s entry', async (_what, damage) => {
  await resolveAlpha();
  const [file] = await entries();
  await fs.writeFile(file!, damage(await fs.readFile(file!)));
  expect(await resolveAlpha()).toEqual(['alpha==2.0']);
  expect(metadataRequests()).toBe(2);
  expect(await new MetadataCache(store).get({ fileSha256: alpha.sha256 })).toEqual(Buffer.from(ALPHA_METADATA));
});

it('keeps metadata by its own sha256 when the index gives no hash of the file', async () => {
  const cache = new MetadataCache(store);
  const body = Buffer.from(ALPHA_METADATA);
  const own = createHash('sha256').update(body).digest('hex');
  await cache.put({ sha256: own }, body);
  await cache.flush();
  expect(await cache.get({ sha256: own })).toEqual(body);
  // A body that is not its key is never kept.
  await cache.put({ sha256: 'a'.repeat(64) }, body);
  await cache.flush();
  expect(await cache.get({ sha256: 'a'.repeat(64) })).toBeUndefined();
});

describe('against an index with PyPI\'s caching headers (the pip comparison data)', () => {
  it('a second resolution within max-age asks nothing; after it, pages are revalidated and metadata read from the store', async () => {
    const { readOracleData, serveMetadata } = await import('./oracle-server');
    const oracle = await serveMetadata(readOracleData());
    const t = JSON.parse(await fs.readFile(path.join(__dirname, 'oracle', 'targets.json'), 'utf8'));
    const local = { id: 'local', pythonVersion: t.local.pythonVersion, markerEnvironment: t.markerEnvironment, supportedTags: t.local.supportedTags };
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const run = async () => {
      const client = new IndexClient({ ...defaultIndexConfig(), indexUrl: oracle.url }, { retries: 0, httpCache: new StoreHttpCache(store), now: () => clock });
      clients.push(client);
      try {
        const r = await resolve(['fastapi', 'uvicorn[standard]'], { client, target: local, formats: { onlyBinary: [':all:'] }, metadataCache: new MetadataCache(store) });
        return r.packages.map((p) => `${p.name}==${p.version}`);
      } finally {
        await client.close();
      }
    };
    try {
      const cold = await run();
      const coldRequests = oracle.requests.length;
      expect(coldRequests).toBeGreaterThan(cold.length);
      expect(await run()).toEqual(cold);
      expect(oracle.requests.length).toBe(coldRequests);
      clock += 601_000;
      expect(await run()).toEqual(cold);
      const again = oracle.requests.slice(coldRequests);
      expect(again.length).toBeGreaterThan(0);
      expect(again.every((p) => p.startsWith('/simple/'))).toBe(true);
    } finally {
      await oracle.close();
    }
  });
});
