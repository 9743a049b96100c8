import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  defaultIndexConfig,
  HashMismatchError,
  IndexClient,
  IndexConfig,
  IndexResponseError,
  parseRetryAfter,
} from '@nx-pex/index';
import { FixtureFile, IndexServer, startIndexServer, writeFixtureWheel } from '@nx-pex/index-server';

const SECRET = 'pa55-w0rd-for-tests';
let tmp: string;
let wheels: string;
let big: FixtureFile;
let small: FixtureFile;
let server: IndexServer;
let auth: IndexServer;
const clients: IndexClient[] = [];

const client = (over: Partial<IndexConfig>, opts: ConstructorParameters<typeof IndexClient>[1] = {}) => {
  const c = new IndexClient({ ...defaultIndexConfig(), ...over }, { retryDelayMs: 10, env: {}, home: tmp, ...opts });
  clients.push(c);
  return c;
};
const fileUrl = (s: IndexServer, name: string) => `${s.url.replace('/simple', '/files/')}${name}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'index-transport-'));
  wheels = path.join(tmp, 'wheels');
  big = await writeFixtureWheel(wheels, { name: 'bigpkg', version: '1.0', padBytes: 300_000 });
  small = await writeFixtureWheel(wheels, { name: 'smallpkg', version: '1.0' });
  server = await startIndexServer({ dir: wheels });
  auth = await startIndexServer({ dir: wheels, basicAuth: { username: 'alice', password: SECRET } });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server.faults.clear();
});
afterAll(async () => {
  await server.close();
  await auth.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('credentials from netrc and the environment', () => {
  it('uses the netrc entry of the host when the URL has none', async () => {
    const netrc = path.join(tmp, 'netrc');
    await fs.writeFile(netrc, `machine 127.0.0.1 login alice password ${SECRET}\n`);
    const files = await client({ indexUrl: auth.url }, { env: { NETRC: netrc } }).projectFiles('smallpkg');
    expect(files.map((f) => f.filename)).toEqual([small.filename]);
    // ~/.netrc is the default location.
    await fs.writeFile(path.join(tmp, '.netrc'), `machine 127.0.0.1 login alice password ${SECRET}\n`);
    expect(await client({ indexUrl: auth.url }).projectFiles('smallpkg')).toHaveLength(1);
    await fs.rm(path.join(tmp, '.netrc'));
    // Not for another host name of the same server.
    const e = await client({ indexUrl: auth.url.replace('127.0.0.1', 'localhost') }, { env: { NETRC: netrc } })
      .projectFiles('smallpkg')
      .catch((x) => x);
    expect(e.message).toMatch(/HTTP 401/);
    expect(e.message).not.toContain(SECRET);
  });

  it('credentials in the URL win over netrc', async () => {
    const netrc = path.join(tmp, 'netrc-wrong');
    await fs.writeFile(netrc, 'default login alice password wrong\n');
    const url = auth.url.replace('http://', `http://alice:${SECRET}@`);
    expect(await client({ indexUrl: url }, { env: { NETRC: netrc } }).projectFiles('smallpkg')).toHaveLength(1);
    const e = await client({ indexUrl: auth.url }, { env: { NETRC: netrc } }).projectFiles('smallpkg').catch((x) => x);
    expect(e.message).toMatch(/HTTP 401/);
  });

  it('takes UV_INDEX_<NAME>_USERNAME/_PASSWORD for a named index, for its pages and files', async () => {
    const env = { UV_INDEX_PRIVATE_REPO_USERNAME: 'alice', UV_INDEX_PRIVATE_REPO_PASSWORD: SECRET };
    const c = client({ indexUrl: auth.url, namedIndexes: [{ name: 'private-repo', url: auth.url }] }, { env });
    const [f] = await c.projectFiles('smallpkg');
    const dest = path.join(tmp, 'named.whl');
    expect((await c.download(f.url, dest, { sha256: small.sha256 })).sha256).toBe(small.sha256);
    const e = await client({ indexUrl: auth.url, namedIndexes: [{ name: 'other', url: auth.url }] }, { env })
      .projectFiles('smallpkg')
      .catch((x) => x);
    expect(e.message).toMatch(/HTTP 401.*netrc.*UV_INDEX_<NAME>_USERNAME/);
  });
});

describe('proxies', () => {
  let proxy: net.Server;
  let proxyUrl: string;
  const tunnels: string[] = [];
  beforeAll(async () => {
    // A CONNECT proxy: the client opens a tunnel to the target host through it.
    proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => proxy.close(r)));

  it('goes through HTTP_PROXY, and around it for NO_PROXY hosts', async () => {
    const port = new URL(server.url).port;
    tunnels.length = 0;
    const viaProxy = client({ indexUrl: server.url }, { env: { HTTP_PROXY: proxyUrl } });
    const [f] = await viaProxy.projectFiles('smallpkg');
    await viaProxy.download(f.url, path.join(tmp, 'proxied.whl'), { sha256: small.sha256 });
    expect(tunnels).toContain(`127.0.0.1:${port}`);

    tunnels.length = 0;
    const direct = client({ indexUrl: server.url }, { env: { http_proxy: proxyUrl, NO_PROXY: 'localhost,127.0.0.1' } });
    expect(await direct.projectFiles('smallpkg')).toHaveLength(1);
    expect(tunnels).toEqual([]);
  });

  it('names the index, not the proxy credentials, when the proxy is down', async () => {
    const e = await client({ indexUrl: server.url }, { retries: 0, env: { HTTP_PROXY: `http://user:${SECRET}@127.0.0.1:9` } })
      .projectFiles('smallpkg')
      .catch((x) => x);
    expect(e.message).toContain(`${server.url}/smallpkg/`);
    expect(`${e.message}${e.stack}`).not.toContain(SECRET);
  });
});

describe('retries', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('waits as long as a 429 answer asks', async () => {
    server.faults.set('/simple/smallpkg/', { kind: 'status', status: 429, retryAfter: '1', times: 1 });
    const started = Date.now();
    expect(await client({ indexUrl: server.url }).projectFiles('smallpkg')).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('retries a reset connection', async () => {
    server.faults.set(`/files/${small.filename}`, { kind: 'reset', times: 2 });
    const r = await client({}).download(fileUrl(server, small.filename), path.join(tmp, 'reset.whl'), { sha256: small.sha256 });
    expect(r.sha256).toBe(small.sha256);
  });

  it('resumes a broken transfer with a range request and reports progress once per byte', async () => {
    server.faults.set(`/files/${big.filename}`, { kind: 'truncate', afterBytes: 100_000, times: 1 });
    const before = server.requests.length;
    let reported = 0;
    const dest = path.join(tmp, 'resumed.whl');
    const r = await client({}).download(fileUrl(server, big.filename), dest, { sha256: big.sha256, onProgress: (d) => (reported += d) });
    expect(r).toEqual({ sha256: big.sha256, size: big.size });
    const asked = server.requests.slice(before);
    // The second request asks only for what is not on disk yet (at most the 100000 bytes sent).
    expect(asked).toHaveLength(2);
    expect(asked[0].range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(asked[1].range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(100_000);
    expect(asked[1].bytes).toBe(big.size - from);
    expect(reported).toBe(big.size);
    expect(sha(await fs.readFile(dest))).toBe(big.sha256);
  });

  it('restarts when the server ignores the range, and still verifies', async () => {
    // The fault answers every request with the first bytes only: each retry starts over.
    server.faults.set(`/files/${big.filename}`, { kind: 'truncate', afterBytes: 50_000, times: 2 });
    let reported = 0;
    const r = await client({}).download(fileUrl(server, big.filename), path.join(tmp, 'restarted.whl'), {
      sha256: big.sha256,
      onProgress: (d) => (reported += d),
    });
    expect(r.sha256).toBe(big.sha256);
    expect(reported).toBe(big.size);
  });
});

describe('bad answers', () => {
  it('a file with the wrong content: URL, expected and actual hash, nothing left behind', async () => {
    server.faults.set(`/files/${small.filename}`, { kind: 'wrong-hash' });
    const dest = path.join(tmp, 'wrong.whl');
    const e = await client({}).download(fileUrl(server, small.filename), dest, { sha256: small.sha256 }).catch((x) => x);
    expect(e).toBeInstanceOf(HashMismatchError);
    expect(e.message).toContain(fileUrl(server, small.filename));
    expect(e.message).toContain(small.sha256);
    expect(e.actual).toMatch(/^[0-9a-f]{64}$/);
    expect(e.message).toContain(e.actual);
    await expect(fs.stat(dest)).rejects.toThrow();
  });

  it('a page of garbage HTML or JSON names the page', async () => {
    server.faults.set('/simple/smallpkg/', { kind: 'body', body: Buffer.from('\u0000\u0001PK garbage'), contentType: 'text/html' });
    let e = await client({ indexUrl: server.url }).projectFiles('smallpkg').catch((x) => x);
    expect(e).toBeInstanceOf(IndexResponseError);
    expect(e.message).toContain(`${server.url}/smallpkg/`);
    server.faults.set('/simple/smallpkg/', { kind: 'body', body: Buffer.from('{"meta": {"api-version": "1.0"}, "files": ['), contentType: 'application/vnd.pypi.simple.v1+json' });
    e = await client({ indexUrl: server.url }).projectFiles('smallpkg').catch((x) => x);
    expect(e).toBeInstanceOf(IndexResponseError);
    expect(e.message).toMatch(/returned invalid JSON/);
    server.faults.set('/simple/smallpkg/', { kind: 'body', body: Buffer.from('just some words'), contentType: 'text/html' });
    e = await client({ indexUrl: server.url }).projectFiles('smallpkg').catch((x) => x);
    expect(e.message).toMatch(/did not return an HTML page \(no markup\)/);
  });

  it('a link whose file name is a path is refused, in HTML and JSON', async () => {
    server.faults.set('/simple/smallpkg/', {
      kind: 'body',
      body: Buffer.from('<html><body><a href="..%2F..%2Fx-1.0-py3-none-any.whl">x</a></body></html>'),
      contentType: 'text/html',
    });
    let e = await client({ indexUrl: server.url }).projectFiles('smallpkg').catch((x) => x);
    expect(e).toBeInstanceOf(IndexResponseError);
    expect(e.message).toContain('"../../x-1.0-py3-none-any.whl"');
    expect(e.message).toContain(`${server.url}/smallpkg/`);
    const page = { meta: { 'api-version': '1.1' }, name: 'smallpkg', files: [{ filename: '../../x-1.0-py3-none-any.whl', url: '../../files/x.whl', hashes: {} }] };
    server.faults.set('/simple/smallpkg/', { kind: 'body', body: Buffer.from(JSON.stringify(page)), contentType: 'application/vnd.pypi.simple.v1+json' });
    e = await client({ indexUrl: server.url }).projectFiles('smallpkg').catch((x) => x);
    expect(e).toBeInstanceOf(IndexResponseError);
    expect(e.message).toContain('not a plain file name');
  });
});
