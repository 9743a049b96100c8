/**
 * Whole builds with the compiled `nx-pex` CLI against the test index server: concurrent builds on
 * an empty store, a build killed mid-download, offline builds, and `nx-pex cache`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PINNED_PEX } from '@nx-pex/pex';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { CLI, cliEnv, copyPinnedPex, exec, listFiles as walk, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace, type CliResult as Result } from './support';

jest.setTimeout(180_000);

let scratch: string;
let server: IndexServer;
let small: FixtureFile;
let big: FixtureFile;
let pexWheel: string;

const overrides = (): NodeJS.ProcessEnv => ({ PIP_INDEX_URL: server.url, NX_PEX_OFFLINE: '', CI: '1' });
const baseEnv = (): NodeJS.ProcessEnv => cliEnv(overrides());

const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> => runCli(args, { env: { ...overrides(), ...env } });

/** The distribution name of a fixture wheel. */
const nameOf = (f: FixtureFile): string => f.filename.split('-')[0]!;

async function workspace(name: string, files: FixtureFile[]): Promise<string> {
  const names = files.map(nameOf);
  return writeWorkspace(join(scratch, name), {
    pyproject: projectToml('app', names),
    sources: { 'main.py': 'import smallpkg\n\ndef main():\n    print("ok", smallpkg.__version__)\n' },
    lock: uvLockText({ dependencies: names, registry: server.url, wheels: files.map((file) => ({ name: nameOf(file), file })) }),
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The store's content-addressed files; each one's bytes must hash to its name. */
function storedWheels(store: string): string[] {
  const files = walk(join(store, 'wheels'));
  for (const f of files) expect(sha(readFileSync(f))).toBe(f.split('/').pop());
  return files.map((f) => f.split('/').pop()!).sort();
}

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-store-build-'));
  const wheels = join(scratch, 'wheels');
  small = await writeFixtureWheel(wheels, { name: 'smallpkg', version: '1.0' });
  big = await writeFixtureWheel(wheels, { name: 'bigpkg', version: '1.0', padBytes: 600_000 });
  await copyPinnedPex(wheels);
  pexWheel = PINNED_PEX.sha256;
  server = await startIndexServer({ dir: wheels });
});

afterEach(() => server.faults.clear());

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('two concurrent builds of the same target on an empty store both succeed, with one verified copy of each wheel', async () => {
  const ws = await workspace('concurrent', [small, big]);
  const store = join(scratch, 'store-concurrent');
  server.faults.set(`/files/${big.filename}`, { kind: 'slow', chunkBytes: 64 * 1024, delayMs: 40 });
  const before = server.requests.length;
  const [a, b] = await Promise.all(
    ['a', 'b'].map((n) => cli(['build', '--project', join(ws, 'app'), '-o', join(ws, `out-${n}`, 'app.pex'), '--store', store])),
  );
  expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, expect.stringContaining('app: wrote')]);
  expect(storedWheels(store)).toEqual([small.sha256, big.sha256, pexWheel].sort());
  expect(walk(join(store, 'tmp'))).toEqual([]);
  expect(walk(join(store, 'leases'))).toEqual([]);
  // Each wheel crossed the network once: the second build waited for the first one's download.
  const downloads = server.requests.slice(before).filter((r) => r.path.startsWith('/files/') && r.bytes > 0);
  expect(downloads.filter((r) => r.path === `/files/${big.filename}`)).toHaveLength(1);
  expect(downloads.filter((r) => r.path === `/files/${small.filename}`)).toHaveLength(1);
  // CI output: one line per downloaded file, no terminal control characters.
  expect(a.stderr + b.stderr).toMatch(/Downloaded bigpkg-1\.0-py3-none-any\.whl \(/);
  expect(a.stderr + b.stderr).not.toContain('\x1b[');
  expect(readFileSync(join(ws, 'out-a', 'app.pex')).equals(readFileSync(join(ws, 'out-b', 'app.pex')))).toBe(true);
});

it('a build killed with SIGKILL during a download leaves a valid store, and the re-run succeeds', async () => {
  const ws = await workspace('killed', [small, big]);
  const store = join(scratch, 'store-killed');
  const out = join(ws, 'out', 'app.pex');
  server.faults.set(`/files/${big.filename}`, { kind: 'slow', chunkBytes: 16 * 1024, delayMs: 50 });
  const child: ChildProcess = spawn(process.execPath, [CLI, 'build', '--project', join(ws, 'app'), '-o', out, '--store', store], {
    env: baseEnv(),
    stdio: 'ignore',
  });
  const exited = new Promise<string | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
  for (let i = 0; ; i++) {
    const partial = walk(join(store, 'tmp')).filter((f) => f.includes(big.sha256) && statSync(f).size > 0);
    if (partial.length) break;
    if (i > 400) throw new Error('the build never started downloading');
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  // Nothing partial at a content address; what is there is verified.
  expect(storedWheels(store)).not.toContain(big.sha256);
  expect(existsSync(out)).toBe(false);

  server.faults.clear();
  const again = await cli(['build', '--project', join(ws, 'app'), '-o', out, '--store', store]);
  expect(again.stderr).toContain('app: wrote');
  expect(again.code).toBe(0);
  expect(storedWheels(store)).toEqual([small.sha256, big.sha256, pexWheel].sort());
  const { stdout } = await exec(out, [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(stdout.trim()).toBe('ok 1.0');
});

it('builds offline from the store alone, and names every missing wheel when it cannot', async () => {
  const ws = await workspace('offline', [small, big]);
  const store = join(scratch, 'store-offline');
  const dead = { PIP_INDEX_URL: 'http://127.0.0.1:9/simple' };
  const empty = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--store', store, '--offline'], dead);
  expect(empty.code).toBe(1);
  for (const f of [small.filename, big.filename]) expect(empty.stderr).toContain(f);
  // The pex runtime is no locked file to fetch: it comes from the wheel the nx-pex package carries.
  expect(empty.stderr).not.toMatch(/ pex-\d/);
  expect(empty.stderr).toMatch(/2 locked files are not in the wheel store/);
  expect(empty.stderr).not.toMatch(/^\s+at /m);

  expect((await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--store', store])).code).toBe(0);
  const before = server.requests.length;
  for (const how of [['--offline'], []]) {
    const env = how.length ? dead : { ...dead, NX_PEX_OFFLINE: '1' };
    const r = await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--store', store, ...how], env);
    expect(r.stderr).toContain('app: wrote');
    expect(r.code).toBe(0);
  }
  expect(server.requests.length).toBe(before);
});

it('nx-pex cache info and prune', async () => {
  const ws = await workspace('cache', [small]);
  const store = join(scratch, 'store-cache');
  expect((await cli(['build', '--project', join(ws, 'app'), '--output-dir', join(ws, 'dist'), '--store', store])).code).toBe(0);
  const info = await cli(['cache', 'info', '--store', store]);
  expect(info.code).toBe(0);
  expect(info.stdout).toContain(`Location:  ${store}`);
  expect(info.stdout).toMatch(/Files:\s+2\n/);
  const json = JSON.parse((await cli(['cache', 'info', '--json'], { NX_PEX_STORE: store })).stdout);
  expect(json).toMatchObject({ root: store, files: 2, inUse: 0 });
  expect(json.bytes).toBe(walk(join(store, 'wheels')).reduce((n, f) => n + statSync(f).size, 0));

  const keep = await cli(['cache', 'prune', '--older-than', '1', '--store', store]);
  expect(keep.stdout).toMatch(/^Removed 0 files .* 2 files .* remain\.$/m);
  const dry = await cli(['cache', 'prune', '--max-size', '0', '--dry-run', '--store', store]);
  expect(dry.stdout).toMatch(/^Would remove 2 files/m);
  expect(storedWheels(store)).toHaveLength(2);
  const all = await cli(['cache', 'prune', '--max-size', '0', '--store', store]);
  expect(all.stdout).toMatch(/^Removed 2 files/m);
  expect(storedWheels(store)).toEqual([]);

  const bad = await cli(['cache', 'prune', '--store', store]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/needs --older-than DAYS and\/or --max-size SIZE/);
  expect((await cli(['cache', 'prune', '--max-size', 'lots', '--store', store])).stderr).toMatch(/--max-size "lots" is not a size/);
});

it('a build from a filled store loads no HTTP client and reuses the prepared runtime and the interpreter probe', async () => {
  const ws = await workspace('warm', [small]);
  const store = join(scratch, 'store-warm');
  const python = (await exec('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
  const modules = join(scratch, 'warm-modules.json');
  const args = ['build', '--project', join(ws, 'app'), '-o', join(ws, 'out', 'app.pex'), '--store', store, '--python', python, '-q'];
  // The CLI's main() in a process that records every module it loaded.
  const build = () =>
    exec(
      process.execPath,
      ['-e', `require(${JSON.stringify(CLI)}).main(${JSON.stringify(args)}).then((code) => { require('node:fs').writeFileSync(${JSON.stringify(modules)}, JSON.stringify(Object.keys(require.cache))); process.exit(code); })`],
      { env: baseEnv() },
    );
  await build();
  const cold: string[] = JSON.parse(readFileSync(modules, 'utf8'));
  expect(cold.some((m) => m.includes('/undici/'))).toBe(true);
  const cacheFiles = () => [...walk(join(store, 'runtimes')), ...walk(join(store, 'interpreters'))];
  const [runtimeFile, probeFile] = cacheFiles();
  expect(runtimeFile).toMatch(new RegExp(`${PINNED_PEX.sha256}\\.v\\d+\\.runtime$`));
  expect(probeFile).toMatch(/\.json$/);
  const stamps = cacheFiles().map((f) => statSync(f).mtimeMs);
  const first = readFileSync(join(ws, 'out', 'app.pex'));

  const requests = server.requests.length;
  await build();
  const warm: string[] = JSON.parse(readFileSync(modules, 'utf8'));
  expect(warm.filter((m) => /\/(undici|htmlparser2)\//.test(m))).toEqual([]);
  expect(server.requests.length).toBe(requests);
  expect(cacheFiles().map((f) => statSync(f).mtimeMs)).toEqual(stamps);
  expect(readFileSync(join(ws, 'out', 'app.pex')).equals(first)).toBe(true);
  const { stdout } = await exec(join(ws, 'out', 'app.pex'), [], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(stdout.trim()).toBe('ok 1.0');
});
