import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFault, startIndexServer, writeFixtureWheel } from '../src';

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'index-server-faults-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('spells faults on the command line', () => {
  expect(parseFault('500')).toEqual({ kind: 'status', status: 500 });
  expect(parseFault('429:3@2')).toEqual({ kind: 'status', status: 429, retryAfter: '3', times: 2 });
  expect(parseFault('reset@1')).toEqual({ kind: 'reset', times: 1 });
  expect(parseFault('truncate:100')).toEqual({ kind: 'truncate', afterBytes: 100 });
  expect(parseFault('wrong-hash')).toEqual({ kind: 'wrong-hash' });
  expect(parseFault('slow:20')).toEqual({ kind: 'slow', delayMs: 20 });
  expect(() => parseFault('explode')).toThrow(/unknown fault "explode"/);
});

it('serves byte ranges, and misbehaves as told for a number of requests', async () => {
  const dir = path.join(tmp, 'w');
  const w = await writeFixtureWheel(dir, { name: 'rng', version: '1.0', padBytes: 5000 });
  const server = await startIndexServer({ dir, fileFault: { kind: 'status', status: 503, retryAfter: '7', times: 1 } });
  const url = `${server.url.replace('/simple', '/files/')}${w.filename}`;
  try {
    const first = await fetch(url);
    expect([first.status, first.headers.get('retry-after')]).toEqual([503, '7']);
    const full = await fetch(url);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const etag = full.headers.get('etag')!;
    const body = Buffer.from(await full.arrayBuffer());
    expect(sha(body)).toBe(w.sha256);
    const part = await fetch(url, { headers: { range: 'bytes=100-', 'if-range': etag } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-${w.size - 1}/${w.size}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(body.subarray(100))).toBe(true);
    // A changed file (another validator) gets the whole body.
    expect((await fetch(url, { headers: { range: 'bytes=100-', 'if-range': '"other"' } })).status).toBe(200);
    expect((await fetch(url, { headers: { range: `bytes=${w.size}-` } })).status).toBe(416);

    server.faults.set(`/files/${w.filename}`, { kind: 'wrong-hash', times: 1 });
    const wrong = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(wrong.length).toBe(w.size);
    expect(sha(wrong)).not.toBe(w.sha256);
    expect(sha(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(w.sha256);

    server.faults.set(`/files/${w.filename}`, { kind: 'reset', times: 1 });
    await expect(fetch(url)).rejects.toThrow();
    expect((await fetch(url)).status).toBe(200);
  } finally {
    await server.close();
  }
});

it('runs by hand from the command line', async () => {
  const dir = path.join(tmp, 'cli');
  const w = await writeFixtureWheel(dir, { name: 'handy', version: '1.0' });
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'src', 'cli.ts'), '--dir', dir, '--user', 'u', '--password', 'p', '--fail-files', '500@1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d))));
    const base = /at (http:\/\/127\.0\.0\.1:\d+\/simple)\//.exec(line)![1];
    const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    expect((await fetch(`${base}/handy/`)).status).toBe(401);
    const url = `${base.replace('/simple', '/files/')}${w.filename}`;
    expect((await fetch(url, { headers: auth })).status).toBe(500);
    expect(sha(Buffer.from(await (await fetch(url, { headers: auth })).arrayBuffer()))).toBe(w.sha256);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
});
