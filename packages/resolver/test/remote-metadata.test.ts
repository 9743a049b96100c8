/**
 * Metadata of wheels whose index offers no PEP 658 file: read by HTTP range requests, without
 * downloading the wheel; the whole wheel only from a server that takes no ranges.
 */
import { copyFileSync, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yazl from 'yazl';
import { IndexClient } from '@nx-pex/index';
import { probeInterpreter, targetFromInterpreter, UserError, type TargetPlatform } from '@nx-pex/pep';
import { resolve } from '@nx-pex/resolver';
import { readRemoteWheelMetadata } from '../src/remote-metadata';
import { readWheelMetadata } from '../src/wheel-metadata';
import { startIndexServer, type IndexServer } from '../../../tools/index-server/src';

const WHEELS = join(__dirname, '..', '..', '..', '.cache', 'wheels');
/** Real wheels of several sizes and builders (numpy's central directory alone is larger than the first request). */
const REAL = ['six-1.17.0-', 'numpy-', 'pydantic_core-', 'fastapi-', 'typing_extensions-'];

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
  writeFileSync(join(dir, 'broken-1.0-py3-none-any.whl'), Buffer.alloc(4096, 7));
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
    expect(got?.text).toBe(await readWheelMetadata(join(dir, name), name));
    const size = statSync(join(dir, name)).size;
    expect(servedBytes(ranged, name)).toBeLessThanOrEqual(Math.max(size / 2, 64 * 1024 + 4096));
    if (prefix === 'numpy-') expect(got!.requests).toBeGreaterThan(1);
  });

  it('reads a zip64 wheel (zip64 end records and extra fields)', async () => {
    const got = await readRemoteWheelMetadata(client, fileUrl(ranged, 'big-1.0-py3-none-any.whl'), 'big-1.0-py3-none-any.whl');
    expect(got?.text).toContain('Requires-Dist: six');
  });

  it('gives up on a server that answers ranges with the whole file, without reading it', async () => {
    const name = picked.find((n) => n.startsWith('numpy-'))!;
    await expect(readRemoteWheelMetadata(client, fileUrl(whole, name), name)).resolves.toBeUndefined();
    expect(servedBytes(whole, name)).toBeLessThan(statSync(join(dir, name)).size);
  });

  it('names the URL of a file that is not a wheel', async () => {
    const err = await readRemoteWheelMetadata(client, fileUrl(ranged, 'broken-1.0-py3-none-any.whl'), 'broken-1.0-py3-none-any.whl').catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/\/files\/broken-1\.0-py3-none-any\.whl is not a readable wheel \(no end of central directory record\)/);
  });
});

describe('resolution from an index without metadata files', () => {
  let target: TargetPlatform;
  beforeAll(async () => {
    target = targetFromInterpreter(await probeInterpreter('python3'));
  });

  it('reads dependencies by ranges, downloads no wheel, and chooses what it chooses with metadata files', async () => {
    const before = ranged.requests.length;
    const byRanges = await resolve(['fastapi', 'six'], { client, target, formats: { onlyBinary: [':all:'] } });
    const fileRequests = ranged.requests.slice(before).filter((x) => x.path.startsWith('/files/'));
    expect(fileRequests.length).toBeGreaterThan(3);
    expect(fileRequests.every((x) => x.range !== undefined)).toBe(true);
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

  it('takes the whole wheel (into the store) when the server takes no ranges', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'nx-pex-remote-meta-store-'));
    const plain = new IndexClient({ indexUrl: whole.url, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] }, { retries: 0 });
    try {
      const { WheelStore } = await import('@nx-pex/store');
      const r = await resolve(['six'], { client: plain, target, store: new WheelStore(storeDir) });
      expect(r.packages.map((p) => `${p.name}==${p.version}`)).toEqual(['six==1.17.0']);
      // The range request was answered with the whole file; then the wheel was downloaded into the store.
      const six = picked[0]!;
      expect(whole.requests.some((x) => x.path === `/files/${six}` && x.range === undefined)).toBe(true);
      expect(readdirSync(join(storeDir, 'wheels', 'sha256'), { recursive: true }).length).toBeGreaterThan(0);
    } finally {
      await plain.close();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});
