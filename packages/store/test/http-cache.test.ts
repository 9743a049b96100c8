/**
 * Index pages kept in the store (`<store>/http/`) by the index client: reused without a request
 * while fresh, revalidated with ETag / Last-Modified afterwards, never kept when the server says
 * no-store, refetched when damaged, and free of credentials.
 */
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { cachePolicy, defaultIndexConfig, IndexClient, parseCacheControl, type IndexConfig } from '@nx-pex/index';
import { StoreHttpCache } from '@nx-pex/store';

interface Seen {
  path: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  authorization?: string;
  accept?: string;
}

/** A PEP 691 index whose response headers each test sets. */
class PageServer {
  readonly seen: Seen[] = [];
  headers: Record<string, string> = {};
  etag: string | undefined = '"v1"';
  lastModified: string | undefined;
  version = '1.0';
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.seen.push({
        path: req.url ?? '',
        ifNoneMatch: req.headers['if-none-match'],
        ifModifiedSince: req.headers['if-modified-since'],
        authorization: req.headers.authorization,
        accept: req.headers.accept,
      });
      const validators: Record<string, string> = {};
      if (this.etag) validators.etag = this.etag;
      if (this.lastModified) validators['last-modified'] = this.lastModified;
      const matches =
        (this.etag !== undefined && req.headers['if-none-match'] === this.etag) ||
        (this.etag === undefined && this.lastModified !== undefined && req.headers['if-modified-since'] === this.lastModified);
      if (matches) {
        res.writeHead(304, { ...this.headers, ...validators }).end();
        return;
      }
      const m = /^\/simple\/([^/]+)\/$/.exec(req.url ?? '');
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const filename = `${m[1]}-${this.version}-py3-none-any.whl`;
      const body = JSON.stringify({ meta: { 'api-version': '1.1' }, name: m[1], files: [{ filename, url: `../../files/${filename}`, hashes: {} }] });
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', ...this.headers, ...validators }).end(body);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/simple`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let tmp: string;
let server: PageServer;
let clock: number;
const clients: IndexClient[] = [];

function client(over: Partial<IndexConfig> = {}, opts: ConstructorParameters<typeof IndexClient>[1] = {}): IndexClient {
  const c = new IndexClient(
    { ...defaultIndexConfig(), indexUrl: server.url, ...over },
    { retries: 0, httpCache: new StoreHttpCache(tmp), now: () => clock, env: {}, home: tmp, ...opts },
  );
  clients.push(c);
  return c;
}

/** Each run is a new process in real use: a new client (its in-memory memo is empty), closed at the end. */
async function versionsSeen(c = client()): Promise<string[]> {
  try {
    return (await c.projectFiles('demo')).map((f) => f.filename);
  } finally {
    await c.close();
  }
}

async function cacheFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(path.join(tmp, 'http'));
  return out;
}

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'http-cache-'));
  server = new PageServer();
  await server.start();
  clock = Date.parse('2026-01-01T00:00:00Z');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('index pages in the store', () => {
  it('within max-age answers from the store without any request', async () => {
    server.headers = { 'cache-control': 'max-age=600, public' };
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(server.seen).toHaveLength(1);
    server.version = '2.0'; // the server changed, but the kept page is still fresh
    clock += 599_000;
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(server.seen).toHaveLength(1);
  });

  it('after max-age revalidates with If-None-Match and reuses the body on 304', async () => {
    server.headers = { 'cache-control': 'max-age=600' };
    await versionsSeen();
    clock += 601_000;
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.ifNoneMatch).toBe('"v1"');
    // The 304 renewed the freshness: the next run within max-age asks nothing.
    clock += 300_000;
    await versionsSeen();
    expect(server.seen).toHaveLength(2);
  });

  it('takes the new page when the validator no longer matches', async () => {
    server.headers = { 'cache-control': 'max-age=600' };
    await versionsSeen();
    server.version = '2.0';
    server.etag = '"v2"';
    clock += 601_000;
    expect(await versionsSeen()).toEqual(['demo-2.0-py3-none-any.whl']);
    expect(server.seen[1]!.ifNoneMatch).toBe('"v1"');
  });

  it('revalidates with If-Modified-Since when the server gives only Last-Modified', async () => {
    server.etag = undefined;
    server.lastModified = 'Wed, 31 Dec 2025 10:00:00 GMT';
    await versionsSeen();
    await versionsSeen();
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.ifModifiedSince).toBe('Wed, 31 Dec 2025 10:00:00 GMT');
    expect(server.seen[1]!.ifNoneMatch).toBeUndefined();
  });

  it('no-cache keeps the page but revalidates every use', async () => {
    server.headers = { 'cache-control': 'no-cache, max-age=600' };
    await versionsSeen();
    await versionsSeen();
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.ifNoneMatch).toBe('"v1"');
  });

  it('keeps nothing of a no-store response', async () => {
    server.headers = { 'cache-control': 'no-store, max-age=600' };
    await versionsSeen();
    expect(await cacheFiles()).toEqual([]);
    await versionsSeen();
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.ifNoneMatch).toBeUndefined();
  });

  it('keys by Accept: a JSON page is not answered for an HTML request', async () => {
    server.headers = { 'cache-control': 'max-age=600' };
    await versionsSeen();
    const cache = new StoreHttpCache(tmp);
    expect(await cache.get(`${server.url}/demo/`, 'text/html')).toBeUndefined();
    expect(server.seen[0]!.accept).toMatch(/application\/vnd\.pypi\.simple\.v1\+json/);
    expect(await cache.get(`${server.url}/demo/`, server.seen[0]!.accept!)).toMatchObject({ etag: '"v1"' });
  });

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 5)],
    ['with a changed body', (b: Buffer) => Buffer.concat([b.subarray(0, b.length - 3), Buffer.from('}}}')])],
    ['garbage', () => Buffer.from('\u0000\u0001 not an entry')],
    ['empty', () => Buffer.alloc(0)],
  ])('a %s entry is ignored and the page fetched again', async (_what, damage) => {
    server.headers = { 'cache-control': 'max-age=600' };
    await versionsSeen();
    const [file] = await cacheFiles();
    await fs.writeFile(file!, damage(await fs.readFile(file!)));
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.ifNoneMatch).toBeUndefined(); // a full request, not a revalidation
    // …and kept again, whole.
    await versionsSeen();
    expect(server.seen).toHaveLength(2);
  });

  it('a store it cannot write to is passed by, not an error', async () => {
    await fs.writeFile(path.join(tmp, 'http'), 'a file where the directory would go');
    server.headers = { 'cache-control': 'max-age=600' };
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(await versionsSeen()).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(server.seen).toHaveLength(2);
  });

  it('keeps no credentials: not from the URL, netrc or UV_INDEX_* variables', async () => {
    const SECRET = 'hunter2-s3cret';
    const USER = 'alice-the-user';
    server.headers = { 'cache-control': 'max-age=0' };
    const withCreds = server.url.replace('http://', `http://${USER}:${SECRET}@`);
    await versionsSeen(client({ indexUrl: withCreds }));
    expect(server.seen[0]!.authorization).toBe(`Basic ${Buffer.from(`${USER}:${SECRET}`).toString('base64')}`);

    await fs.writeFile(path.join(tmp, '.netrc'), `machine 127.0.0.1 login ${USER} password ${SECRET}\n`);
    await versionsSeen(client({}, { home: tmp }));
    expect(server.seen[1]!.authorization).toBe(`Basic ${Buffer.from(`${USER}:${SECRET}`).toString('base64')}`);

    await versionsSeen(client({ namedIndexes: [{ name: 'corp', url: server.url }] }, { env: { UV_INDEX_CORP_USERNAME: USER, UV_INDEX_CORP_PASSWORD: SECRET } }));
    const files = await cacheFiles();
    expect(files.length).toBeGreaterThan(0);
    const forbidden = [SECRET, USER, Buffer.from(`${USER}:${SECRET}`).toString('base64'), encodeURIComponent(SECRET)];
    for (const f of files) {
      const text = (await fs.readFile(f)).toString('latin1');
      for (const s of forbidden) expect(text).not.toContain(s);
      expect(path.relative(tmp, f)).not.toMatch(new RegExp(`${SECRET}|${USER}`));
    }
    // The page asked for with credentials was kept under the redacted URL.
    const kept = JSON.parse((await fs.readFile(files[0]!, 'utf8')).split('\n')[0]!);
    expect(kept.url).toMatch(/^http:\/\/(\*\*\*@)?127\.0\.0\.1:\d+\/simple\/demo\/$/);
  });

  it('refuses to keep a response whose URL still carries credentials', async () => {
    const cache = new StoreHttpCache(tmp);
    await cache.put({ url: 'https://u:p@example.com/simple/x/', accept: '*/*', finalUrl: 'https://example.com/simple/x/', contentType: '', storedAt: 0, freshUntil: 1, body: Buffer.from('x') });
    await cache.flush();
    expect(await cacheFiles()).toEqual([]);
  });
});

describe('cachePolicy', () => {
  const now = 1_000_000;
  it('reads max-age less Age, no-cache, no-store and Expires', () => {
    expect(cachePolicy({ 'cache-control': 'max-age=600', etag: '"a"' }, now)).toEqual({ store: true, freshUntil: now + 600_000 });
    expect(cachePolicy({ 'cache-control': 'max-age=600', age: '100' }, now)).toEqual({ store: true, freshUntil: now + 500_000 });
    expect(cachePolicy({ 'cache-control': 'no-cache', etag: '"a"' }, now)).toEqual({ store: true, freshUntil: now });
    expect(cachePolicy({ 'cache-control': 'no-cache' }, now)).toEqual({ store: false });
    expect(cachePolicy({ 'cache-control': 'private, no-store', etag: '"a"' }, now)).toEqual({ store: false });
    expect(cachePolicy({ etag: '"a"' }, now)).toEqual({ store: true, freshUntil: now });
    expect(cachePolicy({}, now)).toEqual({ store: false });
    expect(cachePolicy({ date: 'Thu, 01 Jan 2026 00:00:00 GMT', expires: 'Thu, 01 Jan 2026 00:01:00 GMT' }, now)).toEqual({ store: true, freshUntil: now + 60_000 });
    expect(cachePolicy({ expires: '0', 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' }, now)).toEqual({ store: true, freshUntil: now });
  });
  it('parses quoted directive values', () => {
    expect([...parseCacheControl('no-cache="set-cookie, x", Max-Age=60')]).toEqual([
      ['no-cache', 'set-cookie, x'],
      ['max-age', '60'],
    ]);
  });
});
