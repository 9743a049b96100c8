/**
 * Metadata of wheels on an index without PEP 658 files: read by byte ranges when the server takes
 * them (a few kilobytes, not the wheel), else from the whole wheel downloaded into the store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yazl from 'yazl';
import { abbreviatedPlatform } from '@nx-pex/pep';
import { defaultIndexConfig, IndexClient } from '@nx-pex/index';
import { MetadataCache, WheelStore } from '@nx-pex/store';
import { resolve } from '@nx-pex/resolver';

/** A wheel whose METADATA comes first and `padBytes` of incompressible data after it. */
async function wheel(name: string, version: string, requires: string[], padBytes: number): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const di = `${name}-${version}.dist-info`;
  const metadata = ['Metadata-Version: 2.1', `Name: ${name}`, `Version: ${version}`, ...requires.map((r) => `Requires-Dist: ${r}`), '', ''].join('\n');
  zip.addBuffer(Buffer.from(metadata), `${di}/METADATA`);
  zip.addBuffer(Buffer.from('Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n'), `${di}/WHEEL`);
  zip.addBuffer(randomBytes(padBytes), `${name}/_pad.bin`, { compress: false });
  zip.addBuffer(Buffer.from(''), `${di}/RECORD`);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Served {
  url: string;
  ranges: boolean;
  /** Method, path, Range header and body bytes of every request. */
  log: { method: string; path: string; range?: string; bytes: number }[];
  close(): Promise<void>;
}

async function serve(files: Record<string, Buffer>, ranges: boolean): Promise<Served> {
  const log: Served['log'] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const entry = { method: req.method ?? 'GET', path: p, bytes: 0, ...(req.headers.range ? { range: req.headers.range } : {}) };
    log.push(entry);
    const page = /^\/simple\/([^/]+)\/$/.exec(p);
    if (page) {
      const mine = Object.entries(files).filter(([f]) => f.startsWith(`${page[1]}-`));
      if (!mine.length) return void res.writeHead(404).end();
      const body = JSON.stringify({
        meta: { 'api-version': '1.1' },
        name: page[1],
        files: mine.map(([filename, data]) => ({ filename, url: `../../files/${filename}`, hashes: { sha256: createHash('sha256').update(data).digest('hex') } })),
      });
      return void res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end(body);
    }
    const data = files[p.replace(/^\/files\//, '')];
    if (!data) return void res.writeHead(404).end();
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', ...(ranges ? { 'accept-ranges': 'bytes' } : {}) };
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    let body = data;
    if (ranges && m) {
      const [start, end] = [Number(m[1]), Math.min(Number(m[2]), data.length - 1)];
      body = data.subarray(start, end + 1);
      res.writeHead(206, { ...headers, 'content-length': body.length, 'content-range': `bytes ${start}-${end}/${data.length}` });
    } else {
      res.writeHead(200, { ...headers, 'content-length': data.length });
    }
    if (req.method === 'HEAD') return void res.end();
    entry.bytes = body.length;
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`,
    ranges,
    log,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const target = abbreviatedPlatform('linux_x86_64-cp-312-cp312');
let tmp: string;
let files: Record<string, Buffer>;
const clients: IndexClient[] = [];

async function run(server: Served, store: string) {
  const client = new IndexClient({ ...defaultIndexConfig(), indexUrl: server.url }, { retries: 0 });
  clients.push(client);
  try {
    const r = await resolve(['alpha'], { client, target, store: new WheelStore(store), metadataCache: new MetadataCache(store) });
    return r.packages.map((p) => `${p.name}==${p.version}`);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'remote-wheel-'));
  files = {
    'alpha-1.0-py3-none-any.whl': await wheel('alpha', '1.0', ['beta>=2'], 300_000),
    'beta-2.0-py3-none-any.whl': await wheel('beta', '2.0', [], 10_000),
  };
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

it('reads METADATA by byte ranges, far from the whole wheel, and keeps nothing unverified', async () => {
  const server = await serve(files, true);
  try {
    const store = path.join(tmp, 'ranges');
    expect(await run(server, store)).toEqual(['alpha==1.0', 'beta==2.0']);
    const alpha = server.log.filter((r) => r.path === '/files/alpha-1.0-py3-none-any.whl');
    expect(alpha.some((r) => r.method === 'HEAD')).toBe(true);
    expect(alpha.filter((r) => r.method === 'GET').every((r) => r.range !== undefined)).toBe(true);
    // METADATA sits before 300 kB of data: the tail, then the entry itself.
    expect(alpha.filter((r) => r.range).length).toBe(2);
    expect(alpha.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(100_000);
    // Nothing read by ranges is kept by the file's sha256 (no one checked it against the hash);
    // the small beta wheel was downloaded whole, checked, and its metadata kept.
    const sha = (f: string) => createHash('sha256').update(files[f]!).digest('hex');
    const kept = new MetadataCache(store);
    expect(await kept.get({ fileSha256: sha('alpha-1.0-py3-none-any.whl') })).toBeUndefined();
    expect((await kept.get({ fileSha256: sha('beta-2.0-py3-none-any.whl') }))?.toString()).toMatch(/^Name: beta$/m);
    expect(server.log.filter((r) => r.path === '/files/beta-2.0-py3-none-any.whl' && r.method === 'GET').map((r) => r.range)).toEqual([undefined]);
  } finally {
    await server.close();
  }
});

it('downloads the whole wheel into the store when the server takes no ranges, and reads it there next time', async () => {
  const server = await serve(files, false);
  try {
    const store = path.join(tmp, 'whole');
    expect(await run(server, store)).toEqual(['alpha==1.0', 'beta==2.0']);
    const whole = server.log.filter((r) => r.path.startsWith('/files/') && r.method === 'GET');
    expect(whole.map((r) => r.bytes).sort((a, b) => a - b)).toEqual(Object.values(files).map((b) => b.length).sort((a, b) => a - b));
    server.log.length = 0;
    // The metadata is kept by each wheel's sha256 (the wheel was checked against it).
    expect(await run(server, store)).toEqual(['alpha==1.0', 'beta==2.0']);
    expect(server.log.filter((r) => r.path.startsWith('/files/'))).toEqual([]);
  } finally {
    await server.close();
  }
});
