import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { negotiate, startIndexServer, writeFixtureWheel } from '../src';

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'index-server-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

describe('negotiate', () => {
  it('picks the best simple-API media type per PEP 691', () => {
    expect(negotiate(undefined)).toBe('text/html');
    expect(negotiate('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01')).toBe(
      'application/vnd.pypi.simple.v1+json',
    );
    expect(negotiate('text/html')).toBe('text/html');
    expect(negotiate('application/vnd.pypi.simple.v1+html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.1')).toBe('application/vnd.pypi.simple.v1+html');
    expect(negotiate('*/*')).toBe('text/html');
    expect(negotiate('application/*;q=0.5, */*;q=0.1')).toBe('application/vnd.pypi.simple.v1+json');
    expect(negotiate('application/vnd.pypi.simple.v1+json;q=0, */*')).toBe('text/html');
    expect(negotiate('application/vnd.pypi.simple.v1+json;q=0, image/png')).toBeUndefined();
  });
});

describe('startIndexServer', () => {
  it('serves project list, pages, files and PEP 658 metadata, with basic auth', async () => {
    const dir = path.join(tmp, 'w');
    const w = await writeFixtureWheel(dir, { name: 'Foo_Bar', version: '1.0', requiresPython: '>=3.9' });
    const server = await startIndexServer({ dir, basicAuth: { username: 'u', password: 'p' } });
    const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    try {
      expect((await fetch(`${server.url}/`)).status).toBe(401);
      const list = await (await fetch(`${server.url}/`, { headers: { ...auth, accept: 'application/vnd.pypi.simple.v1+json' } })).json();
      expect(list.projects).toEqual([{ name: 'foo-bar' }]);
      const page = await (await fetch(`${server.url}/Foo_Bar`, { headers: { ...auth, accept: 'application/vnd.pypi.simple.v1+json' } })).json();
      expect(page.name).toBe('foo-bar');
      expect(page.files[0]).toMatchObject({ filename: w.filename, hashes: { sha256: w.sha256 }, 'requires-python': '>=3.9', size: w.size });
      const html = await (await fetch(`${server.url}/foo-bar/`, { headers: auth })).text();
      expect(html).toContain(`href="../../files/${w.filename}#sha256=${w.sha256}"`);
      expect(html).toContain('data-requires-python="&gt;=3.9"');
      const metadata = Buffer.from(await (await fetch(`${server.url.replace('/simple', '/files/')}${w.filename}.metadata`, { headers: auth })).arrayBuffer());
      expect(metadata.toString()).toContain('Name: Foo_Bar');
      expect(page.files[0]['core-metadata']).toEqual({ sha256: createHash('sha256').update(metadata).digest('hex') });
      const body = Buffer.from(await (await fetch(`${server.url.replace('/simple', '/files/')}${w.filename}`, { headers: auth })).arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex')).toBe(w.sha256);
      expect((await fetch(`${server.url}/nope/`, { headers: auth })).status).toBe(404);
      expect(server.requests.map((r) => r.path)).toContain('/simple/Foo_Bar');
    } finally {
      await server.close();
    }
  });

  it('logs the body bytes sent for each request', async () => {
    const dir = path.join(tmp, 'bytes');
    const w = await writeFixtureWheel(dir, { name: 'big_one', version: '1.0', padBytes: 300_000 });
    const server = await startIndexServer({ dir });
    try {
      const files = server.url.replace('/simple', '/files/');
      const body = Buffer.from(await (await fetch(`${files}${w.filename}`)).arrayBuffer());
      const page = await (await fetch(`${server.url}/big-one/`)).text();
      await fetch(`${files}${w.filename}`, { method: 'HEAD' });
      await fetch(`${files}missing.whl`);
      expect(body.length).toBe(w.size);
      expect(server.requests.map((r) => [r.method, r.path, r.bytes])).toEqual([
        ['GET', `/files/${w.filename}`, w.size],
        ['GET', '/simple/big-one/', Buffer.byteLength(page)],
        ['HEAD', `/files/${w.filename}`, 0],
        ['GET', '/files/missing.whl', Buffer.byteLength('no file missing.whl\n')],
      ]);
    } finally {
      await server.close();
    }
  });
});
