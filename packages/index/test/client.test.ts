import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  defaultIndexConfig,
  HashMismatchError,
  IndexClient,
  IndexConfig,
  IndexError,
  IndexUnreachableError,
  TruncatedDownloadError,
} from '@nx-pex/index';
import { IndexServer, startIndexServer, writeFixtureWheel, FixtureFile } from '@nx-pex/index-server';

let tmp: string;
let wheels: string;
let server: IndexServer;
let w1: FixtureFile;
let w2: FixtureFile;
let sdist: { filename: string; sha256: string };
const clients: IndexClient[] = [];

const config = (over: Partial<IndexConfig>): IndexConfig => ({ ...defaultIndexConfig(), ...over });
const client = (over: Partial<IndexConfig>, opts: ConstructorParameters<typeof IndexClient>[1] = {}) => {
  const c = new IndexClient(config(over), { retryDelayMs: 10, ...opts });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'index-client-'));
  wheels = path.join(tmp, 'wheels');
  w1 = await writeFixtureWheel(wheels, { name: 'my_pkg', version: '1.0', requiresPython: '>=3.8' });
  w2 = await writeFixtureWheel(wheels, { name: 'my_pkg', version: '2.0', tag: 'py3-none-manylinux_2_17_x86_64', padBytes: 200_000 });
  await writeFixtureWheel(wheels, { name: 'other', version: '0.1' });
  const sd = Buffer.from('not really a tarball');
  sdist = { filename: 'my-pkg-1.0.tar.gz', sha256: createHash('sha256').update(sd).digest('hex') };
  await fs.writeFile(path.join(wheels, sdist.filename), sd);
  server = await startIndexServer({ dir: wheels, yanked: { [w1.filename]: 'broken build' } });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server.faults.clear();
});

afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('projectFiles from an HTTP index', () => {
  it('asks for JSON and HTML, and reads the JSON page', async () => {
    const files = await client({ indexUrl: server.url }).projectFiles('My.Pkg');
    const byName = new Map(files.map((f) => [f.filename, f]));
    expect([...byName.keys()].sort()).toEqual([w1.filename, w2.filename, sdist.filename].sort());
    expect(byName.get(w1.filename)).toEqual({
      filename: w1.filename,
      url: `${server.url.replace('/simple', '')}/files/${w1.filename}`,
      sha256: w1.sha256,
      requiresPython: '>=3.8',
      yanked: 'broken build',
      coreMetadata: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      size: w1.size,
      source: server.url,
    });
    expect(byName.get(sdist.filename)).toMatchObject({ sha256: sdist.sha256, coreMetadata: false });
    expect(server.requests.some((r) => r.path === '/simple/my-pkg/')).toBe(true);
  });

  it('reads the HTML page of an HTML-only (PEP 503) server, with the same result', async () => {
    const viaJson = await client({ indexUrl: server.url }).projectFiles('my-pkg');
    const htmlServer = await startIndexServer({ dir: wheels, yanked: { [w1.filename]: 'broken build' }, formats: 'html' });
    try {
      const viaHtml = await client({ indexUrl: htmlServer.url }).projectFiles('my-pkg');
      const strip = (files: typeof viaJson) =>
        files
          .map(({ filename, sha256, requiresPython, yanked, coreMetadata }) => ({ filename, sha256, requiresPython, yanked, coreMetadata: coreMetadata || undefined }))
          .sort((a, b) => a.filename.localeCompare(b.filename));
      expect(strip(viaHtml)).toEqual(strip(viaJson));
      expect(viaHtml.find((f) => f.filename === w1.filename)).toMatchObject({ yanked: 'broken build', requiresPython: '>=3.8' });
      // The page links are relative (../../files/...) and resolve against the page URL.
      expect(viaHtml.every((f) => f.url.startsWith(htmlServer.url.replace('/simple', '/files/')))).toBe(true);
    } finally {
      await htmlServer.close();
    }
  });

  it('resolves absolute links and follows redirects to the canonical project page', async () => {
    const abs = await startIndexServer({ dir: wheels, links: 'absolute' });
    try {
      const files = await client({ indexUrl: abs.url }).indexProjectFiles(abs.url, 'other');
      expect(files[0].url).toBe(`${abs.url.replace('/simple', '/files/')}other-0.1-py3-none-any.whl`);
      // A non-canonical page URL is redirected by the server; the client follows it.
      const before = abs.requests.length;
      const viaRedirect = await client({ noIndex: true, findLinks: [`${abs.url}/Other/`] }).projectFiles('other');
      expect(viaRedirect.map((f) => f.url)).toEqual([files[0].url]);
      expect(abs.requests.slice(before).map((r) => r.path)).toEqual(['/simple/Other/', '/simple/other/']);
    } finally {
      await abs.close();
    }
  });

  it('gives no files for a project the index does not know (404), and merges extra indexes', async () => {
    const c = client({ indexUrl: server.url, extraIndexUrls: [`${server.url}/`] });
    expect(await c.projectFiles('nothing-here')).toEqual([]);
    const other = await c.projectFiles('other');
    expect(other.map((f) => f.filename)).toEqual(['other-0.1-py3-none-any.whl']);
  });

  it('retries 5xx answers, then names the index and what to check', async () => {
    server.faults.set('/simple/other/', { kind: 'status', status: 503, times: 2 });
    expect((await client({ indexUrl: server.url }).projectFiles('other')).length).toBe(1);
    server.faults.set('/simple/other/', { kind: 'status', status: 502 });
    const err = await client({ indexUrl: server.url }, { retries: 2 }).projectFiles('other').catch((e) => e);
    expect(err).toBeInstanceOf(IndexUnreachableError);
    expect(err.message).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:\d+\/simple\/other\/: the server answered HTTP 502 \(after 3 attempts\)/);
    expect(err.message).toMatch(/PIP_INDEX_URL/);
  });

  it('reports an unreachable index', async () => {
    const err = await client({ indexUrl: 'http://127.0.0.1:9/simple' }, { retries: 1 }).projectFiles('x').catch((e) => e);
    expect(err).toBeInstanceOf(IndexUnreachableError);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('credentials', () => {
  let auth: IndexServer;
  const SECRET = 'hunter2-s3cr3t';
  beforeAll(async () => {
    auth = await startIndexServer({ dir: wheels, basicAuth: { username: 'alice', password: SECRET } });
  });
  afterAll(() => auth.close());
  const withCreds = (pw: string) => auth.url.replace('http://', `http://alice:${pw}@`);

  it('sends userinfo from the index URL as Basic auth to that host, for pages and files', async () => {
    const c = client({ indexUrl: withCreds(SECRET) });
    const files = await c.projectFiles('other');
    expect(files).toHaveLength(1);
    expect(JSON.stringify(files)).not.toContain(SECRET);
    expect(files[0].source).toBe(auth.url.replace('http://', 'http://***@'));
    // The file URL carries no credentials; the client still authenticates to that host.
    const dest = path.join(tmp, 'auth.whl');
    await expect(c.download(files[0].url, dest, { sha256: files[0].sha256 })).resolves.toMatchObject({ sha256: files[0].sha256 });
  });

  it('keeps the secret out of every error', async () => {
    const bad = client({ indexUrl: withCreds('wrong-' + SECRET) });
    const e1 = await bad.projectFiles('other').catch((e) => e);
    expect(e1).toBeInstanceOf(IndexError);
    expect(e1.message).toMatch(/HTTP 401/);
    const e2 = await bad.download(`${withCreds('wrong-' + SECRET)}/../files/nope.whl`, path.join(tmp, 'x')).catch((e) => e);
    const e3 = await client({ indexUrl: withCreds(SECRET) })
      .download(`${auth.url.replace('/simple', '/files/')}other-0.1-py3-none-any.whl`, path.join(tmp, 'y'), { sha256: '0'.repeat(64) })
      .catch((e) => e);
    expect(e3).toBeInstanceOf(HashMismatchError);
    const e4 = await client({ indexUrl: `http://alice:${SECRET}@127.0.0.1:9/simple` }, { retries: 0 }).projectFiles('x').catch((e) => e);
    for (const e of [e1, e2, e3, e4]) {
      expect(e).toBeInstanceOf(IndexError);
      expect(`${e.message}\n${e.stack}`).not.toContain(SECRET);
    }
  });

  it('drops credentials when a redirect leaves the origin', async () => {
    const seen: Array<{ host?: string; auth?: string }> = [];
    const http = await import('node:http');
    const raw = http.createServer((req, res) => {
      seen.push({ host: req.headers.host, auth: req.headers.authorization });
      const port = (raw.address() as import('node:net').AddressInfo).port;
      if (req.headers.host?.startsWith('127.0.0.1')) {
        res.writeHead(302, { location: `http://localhost:${port}/elsewhere/x/` }).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="x-1.0.tar.gz">x</a>');
      }
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const port = (raw.address() as import('node:net').AddressInfo).port;
      const files = await client({ indexUrl: `http://alice:${SECRET}@127.0.0.1:${port}/simple` }).projectFiles('x');
      expect(files.map((f) => f.url)).toEqual([`http://localhost:${port}/elsewhere/x/x-1.0.tar.gz`]);
      expect(seen).toEqual([
        { host: `127.0.0.1:${port}`, auth: `Basic ${Buffer.from(`alice:${SECRET}`).toString('base64')}` },
        { host: `localhost:${port}`, auth: undefined },
      ]);
    } finally {
      raw.closeAllConnections();
      await new Promise((r) => raw.close(r));
    }
  });

  it('does not send credentials to other hosts', async () => {
    const c = client({ indexUrl: withCreds(SECRET) });
    // Same server under another host name: no credentials, so 401.
    const otherHost = auth.url.replace('127.0.0.1', 'localhost');
    const e = await c.download(`${otherHost.replace('/simple', '/files/')}other-0.1-py3-none-any.whl`, path.join(tmp, 'z')).catch((x) => x);
    expect(e).toBeInstanceOf(IndexError);
    expect(e.message).toMatch(/HTTP 401/);
  });
});

describe('download', () => {
  const fileUrl = (name: string) => `${server.url.replace('/simple', '/files/')}${name}`;

  it('streams to dest and returns hash and size', async () => {
    const dest = path.join(tmp, 'ok.whl');
    expect(await client({}).download(fileUrl(w2.filename), dest, { sha256: w2.sha256, size: w2.size })).toEqual({ sha256: w2.sha256, size: w2.size });
    expect(createHash('sha256').update(await fs.readFile(dest)).digest('hex')).toBe(w2.sha256);
  });

  it('names URL, expected and actual hash on mismatch, and removes dest', async () => {
    const dest = path.join(tmp, 'bad.whl');
    const e = await client({}).download(fileUrl(w1.filename), dest, { sha256: 'f'.repeat(64) }).catch((x) => x);
    expect(e).toBeInstanceOf(HashMismatchError);
    expect(e.message).toContain(fileUrl(w1.filename));
    expect(e.message).toContain('f'.repeat(64));
    expect(e.message).toContain(w1.sha256);
    await expect(fs.stat(dest)).rejects.toThrow();
  });

  it('detects a body cut short, retries, and removes dest', async () => {
    server.faults.set(`/files/${w2.filename}`, { kind: 'truncate', afterBytes: 1000 });
    const dest = path.join(tmp, 'short.whl');
    const e = await client({}, { retries: 2 }).download(fileUrl(w2.filename), dest, { sha256: w2.sha256 }).catch((x) => x);
    expect(e).toBeInstanceOf(TruncatedDownloadError);
    expect(e.message).toMatch(new RegExp(`received \\d+ of ${w2.size} bytes`));
    expect(server.requests.filter((r) => r.path === `/files/${w2.filename}`).length).toBeGreaterThanOrEqual(3);
    await expect(fs.stat(dest)).rejects.toThrow();
  });

  it('recovers when a retry succeeds', async () => {
    server.faults.set(`/files/${w1.filename}`, { kind: 'status', status: 500, times: 1 });
    const dest = path.join(tmp, 'retry.whl');
    expect((await client({}).download(fileUrl(w1.filename), dest, { sha256: w1.sha256 })).sha256).toBe(w1.sha256);
  });

  it('reports a local write failure as such, not as a network problem', async () => {
    const e = await client({}).download(fileUrl(w1.filename), path.join(tmp, 'no-such-dir', 'x.whl')).catch((x) => x);
    expect(e).not.toBeInstanceOf(IndexError);
    expect(e.code).toBe('ENOENT');
  });

  it('reports a missing file without retrying', async () => {
    const before = server.requests.length;
    const e = await client({}).download(fileUrl('missing-1.0-py3-none-any.whl'), path.join(tmp, 'm')).catch((x) => x);
    expect(e).toBeInstanceOf(IndexError);
    expect(e.message).toMatch(/was not found \(HTTP 404\)/);
    expect(server.requests.length - before).toBe(1);
  });

  it('copies file:// URLs with verification', async () => {
    const dest = path.join(tmp, 'local.whl');
    expect(await client({}).download(pathToFileURL(w1.path).href, dest, { sha256: w1.sha256 })).toEqual({ sha256: w1.sha256, size: w1.size });
    await expect(client({}).download(pathToFileURL(w1.path).href, dest, { sha256: w2.sha256 })).rejects.toBeInstanceOf(HashMismatchError);
    await expect(fs.stat(dest)).rejects.toThrow();
  });
});

describe('file:// indexes and find-links', () => {
  it('reads a PEP 503 tree on disk as an index', async () => {
    const root = path.join(tmp, 'disk-index');
    await fs.mkdir(path.join(root, 'my-pkg'), { recursive: true });
    await fs.writeFile(
      path.join(root, 'my-pkg', 'index.html'),
      `<a href="../../wheels/${w1.filename}#sha256=${w1.sha256}" data-requires-python="&gt;=3.8">${w1.filename}</a>`,
    );
    const c = client({ indexUrl: pathToFileURL(root).href });
    const files = await c.projectFiles('my_pkg');
    expect(files).toEqual([
      { filename: w1.filename, url: pathToFileURL(w1.path).href, sha256: w1.sha256, requiresPython: '>=3.8', source: pathToFileURL(root).href },
    ]);
    expect(await c.projectFiles('unknown')).toEqual([]);
    const dest = path.join(tmp, 'fromdisk.whl');
    await c.download(files[0].url, dest, { sha256: w1.sha256 });
  });

  it('lists find-links directories and HTML pages, filtered by project', async () => {
    const before = server.requests.length;
    const page = path.join(tmp, 'links.html');
    await fs.writeFile(page, `<a href="wheels/${w1.filename}">a</a><a href="wheels/other-0.1-py3-none-any.whl">b</a>`);
    const c = client({ indexUrl: server.url, noIndex: true, findLinks: [wheels, pathToFileURL(page).href, path.join(tmp, 'does-not-exist')] });
    const files = await c.projectFiles('my-pkg');
    expect(files.map((f) => f.filename).sort()).toEqual([w1.filename, w1.filename, w2.filename, sdist.filename].sort());
    expect(files.find((f) => f.source === wheels && f.filename === w2.filename)?.url).toBe(pathToFileURL(w2.path).href);
    expect((await c.projectFiles('other')).map((f) => f.filename)).toEqual(['other-0.1-py3-none-any.whl', 'other-0.1-py3-none-any.whl']);
    expect(server.requests.length).toBe(before);
  });

  it('reads an HTTP find-links page', async () => {
    const before = server.requests.length;
    const c = client({ noIndex: true, findLinks: [`${server.url}/my-pkg/`] });
    const files = await c.projectFiles('my-pkg');
    expect(files.map((f) => f.filename).sort()).toEqual([w1.filename, w2.filename, sdist.filename].sort());
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(['/simple/my-pkg/']);
  });
});
