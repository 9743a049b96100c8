/**
 * Cache entries and index responses that would hang a build or exhaust its memory: a FIFO in
 * place of a kept page, a metadata entry that is a symlink to /dev/zero, an entry larger than
 * its kind may be, and an index page that inflates far beyond the page limit (a gzip bomb).
 * Each is refused quickly: a damaged entry is removed and fetched again, an over-large response
 * is one error naming the URL and the limit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { defaultIndexConfig, IndexClient, MAX_METADATA_BYTES, MAX_PAGE_BYTES } from '@nx-pex/index';
import { MetadataCache, StoreHttpCache } from '@nx-pex/store';

jest.setTimeout(60_000);

let tmp: string;
let server: http.Server;
let base: string;
let requests: string[];
/** What the server answers for /simple/<name>/ (default: a normal JSON page). */
let answer: (name: string, res: http.ServerResponse) => void;

function page(name: string): string {
  const filename = `${name}-1.0-py3-none-any.whl`;
  return JSON.stringify({ meta: { 'api-version': '1.1' }, name, files: [{ filename, url: `../../files/${filename}`, hashes: {} }] });
}

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'hostile-cache-'));
  requests = [];
  answer = (name, res) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', 'cache-control': 'max-age=600', etag: '"v1"' }).end(page(name));
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/simple\/([^/]+)\/$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    answer(m[1]!, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await fs.rm(tmp, { recursive: true, force: true });
});

async function files(c: IndexClient, name = 'demo'): Promise<string[]> {
  try {
    return (await c.projectFiles(name)).map((f) => f.filename);
  } finally {
    await c.close();
  }
}

const client = () => new IndexClient({ ...defaultIndexConfig(), indexUrl: base }, { retries: 0, httpCache: new StoreHttpCache(tmp), env: {}, home: tmp });

async function onlyEntry(dir: string): Promise<string> {
  const out: string[] = [];
  for (const sub of await fs.readdir(dir)) for (const f of await fs.readdir(path.join(dir, sub))) out.push(path.join(dir, sub, f));
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe('kept index pages', () => {
  it('a FIFO in place of a kept page does not hang: it is removed and the page fetched again', async () => {
    expect(await files(client())).toEqual(['demo-1.0-py3-none-any.whl']);
    const entry = await onlyEntry(path.join(tmp, 'http'));
    await fs.rm(entry);
    execFileSync('mkfifo', [entry]);
    const started = Date.now();
    expect(await files(client())).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(requests).toHaveLength(2);
    // The FIFO is gone: the page was kept again as a regular file.
    expect((await fs.lstat(entry)).isFile()).toBe(true);
  });

  it('a symlink to /dev/zero in place of a kept page is not read', async () => {
    await files(client());
    const entry = await onlyEntry(path.join(tmp, 'http'));
    await fs.rm(entry);
    await fs.symlink('/dev/zero', entry);
    expect(await files(client())).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(requests).toHaveLength(2);
    expect(existsSync('/dev/zero')).toBe(true);
  });

  it('a page that inflates beyond the limit (a gzip bomb) is one error naming the URL and the limit', async () => {
    // 1 MB of gzip that inflates to 64 MB, over the 50 MB page limit.
    const bomb = zlib.gzipSync(Buffer.alloc(MAX_PAGE_BYTES + 14 * 1024 * 1024, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    answer = (_name, res) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', 'content-encoding': 'gzip' }).end(bomb);
    const before = process.memoryUsage().rss;
    const err = await files(client(), 'bomb').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`${base}/bomb/`);
    expect((err as Error).message).toContain('50 MB');
    expect((err as Error).constructor.name).toBe('IndexError');
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('an uncompressed page over the limit is refused while it is read', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    answer = (_name, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
      let sent = 0;
      const more = (): void => {
        while (sent < MAX_PAGE_BYTES + 5 * chunk.length) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('error', () => undefined);
      more();
    };
    await expect(files(client(), 'huge')).rejects.toThrow(/huge\/ is larger than 50 MB, the limit for an index page/);
  });
});

describe('kept metadata', () => {
  const key = { fileSha256: 'a'.repeat(64) };
  const entryFile = () => path.join(tmp, 'metadata', 'file-sha256', 'aa', 'a'.repeat(64));

  it('a symlink to /dev/zero is answered as missing at once, and removed', async () => {
    const cache = new MetadataCache(tmp);
    await cache.put(key, Buffer.from('Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n'));
    await cache.flush();
    expect((await cache.get(key))?.toString()).toContain('Name: demo');
    await fs.rm(entryFile());
    await fs.symlink('/dev/zero', entryFile());
    const started = Date.now();
    expect(await cache.get(key)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(existsSync(entryFile())).toBe(false);
  });

  it('a FIFO is answered as missing without blocking', async () => {
    await fs.mkdir(path.dirname(entryFile()), { recursive: true });
    execFileSync('mkfifo', [entryFile()]);
    expect(await new MetadataCache(tmp).get(key)).toBeUndefined();
  });

  it('an entry larger than the metadata limit is not read, and nothing that large is kept', async () => {
    const cache = new MetadataCache(tmp);
    const big = Buffer.alloc(MAX_METADATA_BYTES + 1, 0x41);
    await cache.put(key, big);
    await cache.flush();
    expect(existsSync(entryFile())).toBe(false);
    // Written by hand (a damaged or hostile store): refused by its size, then removed.
    await fs.mkdir(path.dirname(entryFile()), { recursive: true });
    await fs.writeFile(entryFile(), Buffer.concat([Buffer.from('{}\n'), big]));
    expect(await cache.get(key)).toBeUndefined();
    expect(existsSync(entryFile())).toBe(false);
  });
});

describe('metadata files from an index', () => {
  it('a .metadata response over 10 MB is one error naming the URL and the limit', async () => {
    const big = Buffer.alloc(MAX_METADATA_BYTES + 1024, 0x41);
    const s = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(big));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/files/demo-1.0-py3-none-any.whl.metadata`;
    const c = client();
    try {
      await expect(c.getFile(url)).rejects.toThrow(`${url} is larger than 10 MB, the limit for a metadata file`);
    } finally {
      await c.close();
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
});

describe('pages kept for one set of credentials', () => {
  it('are answered only to runs with the same credentials, never to one with none or others', async () => {
    const home = (name: string, login?: string) => {
      const dir = path.join(tmp, name);
      return fs.mkdir(dir, { recursive: true }).then(async () => {
        if (login) await fs.writeFile(path.join(dir, '.netrc'), `machine 127.0.0.1 login ${login} password secret-${login}\n`);
        return dir;
      });
    };
    const as = async (h: string) => new IndexClient({ ...defaultIndexConfig(), indexUrl: base }, { retries: 0, httpCache: new StoreHttpCache(tmp), env: {}, home: h });
    const alice = await home('alice', 'alice');
    const nobody = await home('nobody');
    const bob = await home('bob', 'bob');
    expect(await files(await as(alice))).toEqual(['demo-1.0-py3-none-any.whl']);
    expect(requests).toHaveLength(1);
    // Alice again: from the store, no request.
    await files(await as(alice));
    expect(requests).toHaveLength(1);
    // No credentials, or other ones: asked of the index, not answered from Alice's page.
    await files(await as(nobody));
    expect(requests).toHaveLength(2);
    await files(await as(bob));
    expect(requests).toHaveLength(3);
    // No entry holds a credential.
    for (const sub of await fs.readdir(path.join(tmp, 'http'))) {
      for (const f of await fs.readdir(path.join(tmp, 'http', sub))) expect(await fs.readFile(path.join(tmp, 'http', sub, f), 'utf8')).not.toMatch(/secret-|alice|bob/);
    }
  });
});
