/**
 * `--no-pypi` and `PIP_NO_INDEX` mean no connection to any host but the configured indexes and
 * find-links (a trap server on 127.0.0.1 fails the test on any connection), and a message that
 * quotes a user file (a TOML error in uv.lock or pyproject.toml) masks credentials in URLs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { copyPinnedPex, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace } from './support';

jest.setTimeout(120_000);

let scratch: string;
let mirror: IndexServer;
let tiny: FixtureFile;
let trap: Server;
let trapUrl: string;
const connections: string[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-net-'));
  // The wheel exists, but not on the mirror: only the lock's URL (on the trap) names it.
  tiny = await writeFixtureWheel(join(scratch, 'elsewhere'), { name: 'tinylib', version: '1.0' });
  const mirrorDir = join(scratch, 'mirror');
  await copyPinnedPex(mirrorDir);
  mirror = await startIndexServer({ dir: mirrorDir });
  trap = createServer((socket) => {
    connections.push(`${socket.remoteAddress}:${socket.remotePort}`);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  const addr = trap.address();
  if (!addr || typeof addr === 'string') throw new Error('no trap address');
  trapUrl = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await mirror?.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (trap ? trap.close(() => r()) : r()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  connections.length = 0;
});

async function workspace(name: string, url: string): Promise<string> {
  return writeWorkspace(join(scratch, name), {
    pyproject: projectToml('app', ['tinylib']),
    sources: { 'main.py': 'def main():\n    pass\n' },
    lock: uvLockText({ dependencies: ['tinylib'], registry: 'https://pypi.org/simple', wheels: [{ name: 'tinylib', file: tiny, url }] }),
  });
}

it('--no-pypi -i MIRROR never connects to the host a lock names when the mirror lacks the file', async () => {
  const ws = await workspace('no-pypi', `${trapUrl}/packages/${tiny.filename}`);
  const res = await runCli(['build', '--project', join(ws, 'app'), '--no-pypi', '-i', mirror.url, '--store', join(scratch, 'store1')], {
    env: { PIP_INDEX_URL: trapUrl + '/simple', PIP_RETRIES: '0' },
  });
  expect(connections).toEqual([]);
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(tiny.filename);
  expect(res.stderr).toContain(mirror.url);
  expect(res.stderr).toMatch(/Not contacted, as --no-pypi allows only the configured indexes and find-links/);
  expect(res.stderr).not.toMatch(/^\s+at /m);
  // The mirror was asked, for the page of tinylib.
  expect(mirror.requests.some((r) => r.path.startsWith('/simple/tinylib'))).toBe(true);
});

it('PIP_NO_INDEX with find-links never connects to the host a lock names', async () => {
  const ws = await workspace('no-index', `${trapUrl}/packages/${tiny.filename}`);
  const links = join(scratch, 'links');
  await mkdir(links, { recursive: true });
  await copyPinnedPex(links);
  const res = await runCli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 'store2')], {
    env: { PIP_NO_INDEX: '1', PIP_FIND_LINKS: links },
  });
  expect(connections).toEqual([]);
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(tiny.filename);
});

it('--no-pypi with pinned requirements never fetches a file a find-links page lists on another host', async () => {
  const page = join(scratch, 'links.html');
  // No hash in the link: the wheel would be downloaded to learn its sha256.
  await writeFile(page, `<html><body><a href="${trapUrl}/files/${tiny.filename}">${tiny.filename}</a></body></html>\n`);
  const res = await runCli(['build', 'tinylib==1.0', '--no-pypi', '-i', mirror.url, '-f', page, '-o', join(scratch, 'pinned.pex'), '--store', join(scratch, 'store5')]);
  expect(connections).toEqual([]);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/tinylib/);
  expect(res.stderr).not.toMatch(/^\s+at /m);
});

it('a TOML syntax error in uv.lock masks the credentials of the URLs it quotes', async () => {
  const ws = await workspace('toml', 'http://deploy:S3CRET-token@127.0.0.1:9/files/tinylib-1.0-py3-none-any.whl');
  const lock = uvLockText({
    dependencies: ['tinylib'],
    registry: 'http://deploy:S3CRET-token@127.0.0.1:9/simple',
    wheels: [{ name: 'tinylib', file: tiny }],
  });
  // A syntax error next to the lines with credentials.
  await writeFile(join(ws, 'uv.lock'), lock.replace(/^wheels = /m, 'wheels == '));
  const res = await runCli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 'store3')]);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/uv\.lock:\d+:\d+: not valid TOML/);
  expect(res.stderr).toContain('http://***@127.0.0.1:9/simple');
  expect(res.stderr).not.toContain('S3CRET');
  expect(res.stderr).not.toContain('deploy:');
});

it('a TOML syntax error in pyproject.toml masks credentials too', async () => {
  const ws = await workspace('toml-pyproject', `${trapUrl}/x.whl`);
  await writeFile(
    join(ws, 'app', 'pyproject.toml'),
    '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["tinylib @ https://tok:S3CRET@example.invalid/t.whl" x]\n',
  );
  const res = await runCli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 'store4')]);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/pyproject\.toml:4:\d+/);
  expect(res.stderr).not.toContain('S3CRET');
});
