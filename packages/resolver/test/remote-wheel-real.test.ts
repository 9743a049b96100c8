/**
 * Metadata of real wheels whose index offers no PEP 658 file: read by HTTP range requests without
 * downloading the wheel (numpy's central directory alone is more than the first request), a zip64
 * wheel too, and a resolution that reads metadata so chooses what one with metadata files chooses.
 */
import { copyFileSync, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yazl from 'yazl';
import { IndexClient } from '@nx-pex/index';
import { probeInterpreter } from '@nx-pex/interpreter';
import { targetFromInterpreter, type TargetPlatform } from '@nx-pex/pep';
import { resolve } from '@nx-pex/resolver';
import { readRemoteWheelMetadata } from '../src/remote-wheel';
import { readWheelMetadata } from '../src/wheel-metadata';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';

const WHEELS = join(__dirname, '..', '..', '..', '.cache', 'wheels');
/** Real wheels of several sizes and builders, each bigger than the first request. */
const REAL = ['numpy-', 'pydantic_core-', 'pydantic-2', 'fastapi-', 'anyio-'];

let dir: string;
let ranged: IndexServer;
let whole: IndexServer;
let withMetadata: IndexServer;
let client: IndexClient;
const picked: string[] = [];

function zip64Wheel(path: string): Promise<void> {
  const zip = new yazl.ZipFile();
  const opts = { mtime: new Date(1980, 0, 1), mode: 0o644, forceZip64Format: true };
  zip.addBuffer(Buffer.from('x = 1\n'), 'big/__init__.py', opts);
  zip.addBuffer(randomBytes(200 * 1024), 'big/_pad.bin', opts);
  zip.addBuffer(Buffer.from('Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: six\n\n'), 'big-1.0.dist-info/METADATA', { ...opts, compress: true });
  zip.addBuffer(Buffer.from('Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n'), 'big-1.0.dist-info/WHEEL', opts);
  zip.end({ forceZip64Format: true });
  return new Promise((res, rej) => zip.outputStream.pipe(createWriteStream(path)).on('close', () => res()).on('error', rej));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nx-pex-remote-meta-'));
  for (const name of readdirSync(WHEELS)) if (name.endsWith('.whl') && !name.startsWith('pex-')) copyFileSync(join(WHEELS, name), join(dir, name));
  for (const prefix of REAL) {
    const name = readdirSync(dir).find((f) => f.startsWith(prefix));
    if (!name) throw new Error(`.cache/wheels has no ${prefix}* wheel: run python3 tools/fixtures/fetch.py`);
    picked.push(name);
  }
  await zip64Wheel(join(dir, 'big-1.0-py3-none-any.whl'));
  writeFileSync(join(dir, 'broken-1.0-py3-none-any.whl'), Buffer.alloc(100 * 1024, 7));
  ranged = await startIndexServer({ dir, metadataFiles: false });
  whole = await startIndexServer({ dir, metadataFiles: false, ranges: false });
  withMetadata = await startIndexServer({ dir });
  client = new IndexClient({ indexUrl: ranged.url, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] }, { retries: 0 });
});

afterAll(async () => {
  await client?.close();
  await ranged?.close();
  await whole?.close();
  await withMetadata?.close();
  rmSync(dir, { recursive: true, force: true });
});

const fileUrl = (server: IndexServer, name: string) => `${server.url.replace(/\/simple$/, '')}/files/${encodeURIComponent(name)}`;
const servedBytes = (server: IndexServer, name: string) =>
  server.requests.filter((r) => r.path === `/files/${encodeURIComponent(name)}`).reduce((n, r) => n + r.bytes, 0);

describe('a wheel’s METADATA by range requests', () => {
  it.each(REAL)('equals the METADATA in the whole %s wheel, reading a fraction of it', async (prefix) => {
    const name = picked.find((n) => n.startsWith(prefix))!;
    const got = await readRemoteWheelMetadata(client, fileUrl(ranged, name), name);
    expect(got).toBe(await readWheelMetadata(join(dir, name), name));
    const size = statSync(join(dir, name)).size;
    expect(servedBytes(ranged, name)).toBeLessThan(Math.max(size / 2, 100 * 1024));
    const requests = ranged.requests.filter((r) => r.path === `/files/${encodeURIComponent(name)}` && r.range).length;
    if (prefix === 'numpy-') expect(requests).toBeGreaterThan(1);
  });

  it('reads a zip64 wheel (zip64 end records and extra fields)', async () => {
    const got = await readRemoteWheelMetadata(client, fileUrl(ranged, 'big-1.0-py3-none-any.whl'), 'big-1.0-py3-none-any.whl');
    expect(got).toContain('Requires-Dist: six');
    expect(servedBytes(ranged, 'big-1.0-py3-none-any.whl')).toBeLessThan(100 * 1024);
  });

  it('gives up on a server that answers ranges with the whole file, without reading it', async () => {
    const name = picked.find((n) => n.startsWith('numpy-'))!;
    await expect(readRemoteWheelMetadata(client, fileUrl(whole, name), name)).resolves.toBeUndefined();
    expect(servedBytes(whole, name)).toBeLessThan(statSync(join(dir, name)).size);
  });

  it('gives a file that is not a wheel back to the caller, which downloads it whole', async () => {
    await expect(readRemoteWheelMetadata(client, fileUrl(ranged, 'broken-1.0-py3-none-any.whl'), 'broken-1.0-py3-none-any.whl')).resolves.toBeUndefined();
  });
});

describe('resolution from an index without metadata files', () => {
  let target: TargetPlatform;
  beforeAll(async () => {
    target = targetFromInterpreter(await probeInterpreter('python3'));
  });

  it('reads big wheels by ranges, downloads only small ones, and chooses what it chooses with metadata files', async () => {
    const before = ranged.requests.length;
    const storeDir = mkdtempSync(join(tmpdir(), 'nx-pex-remote-meta-store-'));
    const { WheelStore } = await import('@nx-pex/store');
    const byRanges = await resolve(['fastapi', 'six'], { client, target, formats: { onlyBinary: [':all:'] }, store: new WheelStore(storeDir) }).finally(() =>
      rmSync(storeDir, { recursive: true, force: true }),
    );
    const whole = ranged.requests.slice(before).filter((x) => x.path.startsWith('/files/') && x.method === 'GET' && x.range === undefined);
    const big = whole.filter((x) => statSync(join(dir, decodeURIComponent(x.path.slice('/files/'.length)))).size > 100 * 1024);
    expect(big).toEqual([]);
    const meta = new IndexClient({ indexUrl: withMetadata.url, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] }, { retries: 0 });
    try {
      const byFiles = await resolve(['fastapi', 'six'], { client: meta, target, formats: { onlyBinary: [':all:'] } });
      const names = (r: typeof byFiles) => r.packages.map((p) => `${p.name}==${p.version}`).sort();
      expect(names(byRanges)).toEqual(names(byFiles));
      expect(names(byRanges)).toEqual(expect.arrayContaining(['six==1.17.0', expect.stringMatching(/^fastapi==/), expect.stringMatching(/^starlette==/)]));
    } finally {
      await meta.close();
    }
  });

});
