/**
 * The `nx-pex` command on small workspaces made here: a project, a lock written by the test, and
 * a fixture wheel served from a local index on 127.0.0.1. Checks the PEX it builds by running it,
 * and checks that each kind of bad input gives one clear message and no stack trace.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, writeFixtureWheel, type FixtureFile, type IndexServer } from '@nx-pex/index-server';
import { copyPinnedPex, exec, listFiles, projectToml, requireBuiltCli, runCli, uvLockText, writeWorkspace, type CliResult as Result } from './support';

jest.setTimeout(120_000);

let scratch: string;
let wheelsDir: string;
let server: IndexServer;
let wheel: FixtureFile;
let winWheel: FixtureFile;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> =>
  runCli(args, { env: { PIP_INDEX_URL: server.url, ...env } });

function lockText(opts: { registry: string; files?: Array<{ name: string; file: FixtureFile; url?: string; sha256?: string }> }): string {
  return uvLockText({
    dependencies: ['tinylib'],
    requiresDist: [{ name: 'tinylib', specifier: '>=1.0' }],
    registry: opts.registry,
    wheels: opts.files ?? [],
  });
}

const makeWorkspace = (name: string, lock: string): Promise<string> =>
  writeWorkspace(join(scratch, name), {
    pyproject: projectToml('app', ['tinylib>=1.0']),
    sources: { 'main.py': 'import json, sys\nimport tinylib\n\ndef main():\n    print(json.dumps({"tinylib": tinylib.__version__, "argv": sys.argv[1:]}))\n' },
    lock,
  });

const storeFiles = (store: string): string[] => listFiles(join(store, 'wheels'));

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-cli-'));
  wheelsDir = join(scratch, 'wheels');
  await mkdir(wheelsDir);
  wheel = await writeFixtureWheel(wheelsDir, { name: 'tinylib', version: '1.0' });
  winWheel = await writeFixtureWheel(wheelsDir, { name: 'winonly', version: '1.0', tag: 'cp311-cp311-win_amd64' });
  // The pinned pex wheel, for the runtime, from the fixture cache.
  await copyPinnedPex(wheelsDir);
  server = await startIndexServer({ dir: wheelsDir });
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('builds a PEX from a project and its lock, and the PEX runs', async () => {
  const ws = await makeWorkspace('ok', lockText({ registry: server.url, files: [{ name: 'tinylib', file: wheel }] }));
  const store = join(scratch, 'store-ok');
  const out = join(ws, 'out', 'app.pex');
  const res = await cli(['build', '--project', join(ws, 'app'), '-o', out, '--store', store]);
  expect(res.stderr).toContain('app: wrote');
  expect(res.code).toBe(0);
  const { stdout } = await exec(out, ['x', 'y'], { env: { ...process.env, PEX_ROOT: join(scratch, 'pex-root') } });
  expect(JSON.parse(stdout)).toEqual({ tinylib: '1.0', argv: ['x', 'y'] });
  expect(storeFiles(store).length).toBe(2); // tinylib and the pex runtime wheel
});

it('lists its options', async () => {
  const res = await cli(['build', '--help']);
  expect(res.code).toBe(0);
  expect(res.stdout).toMatch(/--project DIR/);
  expect(res.stdout).toMatch(/--output-file PATH/);
});

it('refuses an option it does not know, naming it', async () => {
  const res = await cli(['build', '--project', '.', '--frobnicate', 'packed']);
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/Unknown option '--frobnicate'/);
});

describe('bad input gives one clear message and no stack trace', () => {
  const noStack = (r: Result) => expect(r.stderr).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);

  it('a pyproject.toml that does not parse', async () => {
    const ws = await makeWorkspace('bad-toml', lockText({ registry: server.url }));
    await writeFile(join(ws, 'app', 'pyproject.toml'), '[project]\nname = "app"\ndependencies = [\n');
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's1')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/app\/pyproject\.toml:4:\d+: Invalid TOML document/);
    noStack(res);
  });

  it('a lock that lacks a package the project needs', async () => {
    const ws = await makeWorkspace('missing', lockText({ registry: server.url }));
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's2')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/tinylib/);
    expect(res.stderr).toMatch(/uv\.lock/);
    noStack(res);
  });

  it('no wheel for the target platform', async () => {
    const lock = lockText({ registry: server.url, files: [{ name: 'tinylib', file: winWheel }] });
    const ws = await makeWorkspace('platform', lock);
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's3')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/tinylib/);
    expect(res.stderr).toMatch(/win_amd64/);
    expect(res.stderr).toMatch(/cp311/);
    noStack(res);
  });

  it('a hash mismatch names both hashes and leaves nothing in the store or the output', async () => {
    const wrong = 'ab'.repeat(32);
    const lock = lockText({ registry: server.url, files: [{ name: 'tinylib', file: wheel, sha256: wrong }] });
    const ws = await makeWorkspace('mismatch', lock);
    const store = join(scratch, 's4');
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', store, '--output-dir', join(ws, 'dist')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(wrong);
    expect(res.stderr).toContain(wheel.sha256);
    noStack(res);
    expect(storeFiles(store).some((f) => f.endsWith(wrong))).toBe(false);
    expect(existsSync(join(ws, 'dist', 'app.pex'))).toBe(false);
  });

  it('an unreachable index names the URL', async () => {
    const dead = 'http://127.0.0.1:9/simple';
    const lock = lockText({ registry: dead, files: [{ name: 'tinylib', file: wheel }] });
    const ws = await makeWorkspace('unreachable', lock);
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's5')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('http://127.0.0.1:9/files/tinylib-1.0-py3-none-any.whl');
    noStack(res);
  });

  it('a dependency the lock does not have (a stale lock)', async () => {
    const ws = await makeWorkspace('stale', lockText({ registry: server.url, files: [{ name: 'tinylib', file: wheel }] }));
    await writeFile(
      join(ws, 'app', 'pyproject.toml'),
      '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["tinylib>=1.0", "httpx"]\n\n[project.scripts]\napp = "app.main:main"\n',
    );
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's7')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/depends on httpx, but .*uv\.lock has no httpx .* run `uv lock`/);
    noStack(res);
  });

  it('a project without console scripts', async () => {
    const ws = await makeWorkspace('noscripts', lockText({ registry: server.url }));
    await writeFile(join(ws, 'app', 'pyproject.toml'), '[project]\nname = "app"\nversion = "0.1.0"\n');
    const res = await cli(['build', '--project', join(ws, 'app'), '--store', join(scratch, 's6')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/has no \[project.scripts\]/);
    noStack(res);
  });
});
