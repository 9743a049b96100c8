/**
 * The store under a full disk, a read-only or forbidden directory, and killed or interrupted
 * downloads: one clear message each, and no partial download left behind for long.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultIndexConfig, IndexClient } from '@nx-pex/index';
import { HOST_TAG } from '@nx-pex/fs';
import { StoreError, WheelStore, fetchArtifacts } from '@nx-pex/store';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';

const ROOT = path.resolve(__dirname, '../../..');
let tmp: string;
let wheels: string;
let wheel: FixtureFile;
let server: IndexServer;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'store-failures-'));
  wheels = path.join(tmp, 'wheels');
  wheel = await writeFixtureWheel(wheels, { name: 'alpha', version: '1.0', padBytes: 200_000 });
  server = await startIndexServer({ dir: wheels });
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const errno = (code: string, syscall = 'write') => Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });

describe('a full disk (writes into /dev/full)', () => {
  const onFullDisk = async (url: string) => {
    const root = await fs.mkdtemp(path.join(tmp, 'full-'));
    const store = new WheelStore(root);
    const client = new IndexClient(defaultIndexConfig(), { retryDelayMs: 1 });
    try {
      return await store
        .ensure(
          wheel.sha256,
          async (part) => {
            // The partial download lands on a device that is always full.
            await fs.symlink('/dev/full', part);
            return client.download(url, part, { sha256: wheel.sha256, size: wheel.size });
          },
          { size: wheel.size, label: wheel.filename },
        )
        .catch((e: unknown) => e);
    } finally {
      await client.close();
    }
  };

  it.each([
    ['from an index', () => `${server.url.replace('/simple', '/files/')}${wheel.filename}`],
    ['from find-links', () => pathToFileURL(wheel.path).href],
  ])('%s is reported as a full disk, not as a network problem', async (_what, url) => {
    const err = await onFullDisk(url());
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(/No space left for alpha-1\.0-py3-none-any\.whl in the wheel store .* \(ENOSPC\)/);
    expect((err as Error).message).not.toMatch(/Cannot reach|network/i);
    expect(existsSync('/dev/full')).toBe(true);
  });
});

it.each([
  ['EROFS', /read-only file system \(EROFS\).*NX_PEX_STORE/],
  ['EACCES', /No permission to write alpha-1\.0-py3-none-any\.whl into the wheel store .* \(EACCES\)/],
  ['EDQUOT', /No space left .* \(EDQUOT\)/],
])('%s while adding a file is one clear message', async (code, message) => {
  const store = new WheelStore(await fs.mkdtemp(path.join(tmp, 'ro-')));
  const err = await store
    .ensure(wheel.sha256, async () => Promise.reject(errno(code, 'open')), { label: wheel.filename })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StoreError);
  expect((err as Error).message).toMatch(message);
});

it('a read-only store that has every file still builds (nothing to write)', async () => {
  const root = await fs.mkdtemp(path.join(tmp, 'filled-'));
  const store = new WheelStore(root);
  await store.ensure(wheel.sha256, (p) => fs.copyFile(wheel.path, p));
  // As on a read-only medium: the records cannot be written (their directory is a file).
  await fs.rm(path.join(root, 'records'), { recursive: true });
  await fs.writeFile(path.join(root, 'records'), '');
  const again = new WheelStore(root);
  const out = await fetchArtifacts([{ project: 'alpha', version: '1.0', filename: wheel.filename, sha256: wheel.sha256 }], {
    store: again,
    client: new IndexClient(defaultIndexConfig()),
    config: defaultIndexConfig(),
    offline: true,
  });
  expect(out.get(wheel.sha256)).toBe(store.pathFor(wheel.sha256));
});

describe('partial downloads', () => {
  it("of a killed process are removed by the next one at once, a live one's are kept", async () => {
    const root = await fs.mkdtemp(path.join(tmp, 'parts-'));
    await fs.mkdir(path.join(root, 'tmp'), { recursive: true });
    // A pid that is certainly gone: a child that has exited.
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    const h = 'ab'.repeat(32);
    const deadPart = path.join(root, 'tmp', `${h}.${HOST_TAG}-${dead}.0123456789ab.part`);
    const livePart = path.join(root, 'tmp', `${h}.${HOST_TAG}-${process.ppid}.0123456789ab.part`);
    // Another machine sharing the store: its pids mean nothing here, so its file stays (a day).
    const otherHost = path.join(root, 'tmp', `${h}.00000000-${dead}.0123456789ab.part`);
    for (const f of [deadPart, livePart, otherHost]) await fs.writeFile(f, Buffer.alloc(1000));
    await new WheelStore(root).ensure(wheel.sha256, (p) => fs.copyFile(wheel.path, p));
    expect(existsSync(deadPart)).toBe(false);
    expect(existsSync(livePart)).toBe(true);
    expect(existsSync(otherHost)).toBe(HOST_TAG !== '00000000');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('are removed when the process is interrupted (%s)', async (signal) => {
    const root = await fs.mkdtemp(path.join(tmp, 'sig-'));
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/store'], { cwd: ROOT, stdio: 'pipe' });
    const script = `
      const fs = require('node:fs');
      const { WheelStore } = require(${JSON.stringify(path.join(ROOT, 'packages/store'))});
      new WheelStore(process.argv[1]).ensure(${JSON.stringify(wheel.sha256)}, async (p) => {
        fs.writeFileSync(p, Buffer.alloc(4096));
        console.log('writing');
        await new Promise(() => setInterval(() => {}, 1000));
      });
    `;
    const child = spawn(process.execPath, ['-e', script, root], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', (d) => (String(d).trim() === 'writing' ? resolve() : reject(new Error(String(d)))));
    });
    expect((await fs.readdir(path.join(root, 'tmp'))).filter((n) => n.endsWith('.part'))).toHaveLength(1);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    child.kill(signal);
    expect(await exited).toBe(signal);
    expect((await fs.readdir(path.join(root, 'tmp'))).filter((n) => n.endsWith('.part'))).toEqual([]);
  });
});
