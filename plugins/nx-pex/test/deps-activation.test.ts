/**
 * No wheel in a PEX's `.deps` is left unimportable: PEX-INFO `requirements` must make pex's
 * runtime activate every distribution the lock selected, on every path a build takes (uv.lock,
 * the generated per-project pylock.toml, a user's pylock.toml, poetry.lock, a hashed
 * requirements file, resolution). Each PEX is run with PEX_INTERPRETER=1 and a script that
 * checks every `.deps` wheel is on `sys.path`; the fixture's console script imports every
 * package it needs. The fixture (fixtures/lock-extras) needs what only the lock knows: the
 * extras of a workspace dependency and a member's dynamic dependencies. The same application
 * built by pex 2.105.2 from `uv export` of the same lock must print the same.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { IndexServer } from '@nx-pex/index-server';
import { syncProjectLocks } from '@nx-pex/engine';
import { itWith, pexBinary, uvBinary } from '@nx-pex/testkit';
import { REPO, requireBuiltCli, runCli } from './support';
import { startWorkspaceIndex, withBackendWheels } from './workspace-support';

const run = promisify(execFile);

jest.setTimeout(300_000);

const FIXTURE = join(__dirname, 'fixtures', 'lock-extras');

/** Prints, as JSON, the `.deps` wheels of the PEX (PEX-INFO `distributions`) that are not on sys.path. */
const CHECK = `
import json, os, sys, zipfile
info = json.loads(zipfile.ZipFile(os.environ["CHECKED_PEX"]).read("PEX-INFO"))
on_path = {os.path.basename(p.rstrip("/")) for p in sys.path}
print(json.dumps({"wheels": sorted(info["distributions"]), "inactive": sorted(w for w in info["distributions"] if w not in on_path)}))
`;

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;
let checkScript: string;

beforeAll(async () => {
  requireBuiltCli();
  ({ server, scratch, env } = await startWorkspaceIndex('nx-pex-deps-', 'six-'));
  // The member with dynamic dependencies is asked for its metadata by its own backend (setuptools).
  env = withBackendWheels(env);
  checkScript = join(scratch, 'check_deps.py');
  await writeFile(checkScript, CHECK);
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The `.deps` wheels of a PEX and those pex's runtime left inactive. */
async function activation(pex: string): Promise<{ wheels: string[]; inactive: string[] }> {
  const { stdout } = await run(pex, [checkScript], { env: { ...env, PEX_INTERPRETER: '1', CHECKED_PEX: pex } });
  return JSON.parse(stdout);
}

async function pexInfo(pex: string): Promise<{ requirements: string[] }> {
  const { stdout } = await run('python3', ['-c', 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())', pex]);
  return JSON.parse(stdout);
}

async function build(args: string[], cwd?: string): Promise<void> {
  const res = await runCli(['build', ...args], { env, cwd });
  if (res.code !== 0) throw new Error(`nx-pex build ${args.join(' ')} failed:\n${res.stderr}`);
}

/** A copy of the fixture workspace (with the per-project pylock.toml files `nx sync` writes when `sync`). */
async function fixtureCopy(name: string, sync: boolean): Promise<string> {
  const ws = join(scratch, name);
  await cp(FIXTURE, ws, { recursive: true });
  if (sync) {
    const report = syncProjectLocks({
      read: (p) => (existsSync(join(ws, p)) ? readFileSync(join(ws, p), 'utf8') : null),
      write: (p, text) => require('node:fs').writeFileSync(join(ws, p), text),
      exists: (p) => existsSync(join(ws, p)),
      pyprojects: () => ['app', 'dyn', 'lib'].map((d) => `${d}/pyproject.toml`),
    });
    expect(report.written).toEqual(['app/pylock.toml', 'dyn/pylock.toml', 'lib/pylock.toml']);
  }
  return ws;
}

const EXPECTED_RUN = {
  modules: ['click', 'iniconfig', 'six', 'typing_extensions'],
  versions: { click: '8.5.1', iniconfig: '2.3.1', six: '1.17.0', 'typing-extensions': '4.16.0' },
};

describe('a workspace dependency with extras and a member with dynamic dependencies', () => {
  it.each([
    ['the generated per-project pylock.toml (the default)', true, [] as string[]],
    ['the uv.lock', false, ['--lock', 'uv.lock']],
  ])('from %s: every .deps wheel is active and the script imports all it needs', async (_what, sync, lockArgs) => {
    const ws = await fixtureCopy(`ws-${sync ? 'pylock' : 'uv'}`, sync);
    const out = join(ws, 'dist', 'app.pex');
    await build(['--project', join(ws, 'app'), ...lockArgs, '-o', out], ws);
    const { wheels, inactive } = await activation(out);
    expect(wheels.map((w) => w.split('-')[0])).toEqual(['click', 'iniconfig', 'six', 'typing_extensions']);
    expect(inactive).toEqual([]);
    // The lock's edges, not pyproject's static dependencies: lib's extras and dyn's dynamic dependency.
    const { requirements } = await pexInfo(out);
    expect(requirements.map((r) => r.split(/[=<>!~;[ ]/)[0])).toEqual(['click', 'iniconfig', 'six', 'typing-extensions']);
    const { stdout } = await run(out, [], { env });
    expect(JSON.parse(stdout)).toEqual(EXPECTED_RUN);
  });

  it('from a user\'s own pylock.toml (no dependency edges): every package it installs is active', async () => {
    const ws = await fixtureCopy('ws-user-pylock', true);
    // Without nx-pex's first line, and written by another tool (as `uv export` writes one), the
    // file is the user's own lock, read as it is.
    const own = (await readFile(join(ws, 'app', 'pylock.toml'), 'utf8')).split('\n').slice(1).join('\n').replace(/^created-by = "nx-pex"$/m, 'created-by = "uv"');
    await writeFile(join(ws, 'app', 'pylock.toml'), own);
    const out = join(ws, 'dist', 'app.pex');
    await build(['--project', join(ws, 'app'), '-o', out], ws);
    expect((await activation(out)).inactive).toEqual([]);
    expect(JSON.parse((await run(out, [], { env })).stdout)).toEqual(EXPECTED_RUN);
  });

  it('resolved without a lock: every .deps wheel is active', async () => {
    const out = join(scratch, 'resolved.pex');
    await build(['six', 'click', 'iniconfig', 'typing-extensions', '-o', out]);
    const { wheels, inactive } = await activation(out);
    expect(wheels).toHaveLength(4);
    expect(inactive).toEqual([]);
  });

  itWith(['uv'], 'from `uv export` as a hashed requirements file: every .deps wheel is active', async () => {
    const ws = await fixtureCopy('ws-export', false);
    const { stdout: exported } = await run(uvBinary()!, ['export', '--frozen', '--package', 'app', '--no-dev', '--no-emit-workspace', '--no-header'], { cwd: ws, env });
    await writeFile(join(ws, 'requirements.txt'), exported);
    const out = join(ws, 'dist', 'app-export.pex');
    await build(['-r', join(ws, 'requirements.txt'), '-D', join(ws, 'app', 'src'), '-D', join(ws, 'lib', 'src'), '-D', join(ws, 'dyn', 'src'), '-e', 'app.main:main', '-o', out], ws);
    expect((await activation(out)).inactive).toEqual([]);
    expect(JSON.parse((await run(out, [], { env })).stdout)).toEqual(EXPECTED_RUN);
  });

  itWith(['uv', 'pex'], 'runs as pex 2.105.2\'s build of the same lock (from `uv export`) does', async () => {
    const ws = await fixtureCopy('ws-pex', true);
    const ours = join(ws, 'dist', 'app.pex');
    await build(['--project', join(ws, 'app'), '-o', ours], ws);
    const { stdout: exported } = await run(uvBinary()!, ['export', '--frozen', '--package', 'app', '--no-dev', '--no-emit-workspace', '--no-header'], { cwd: ws, env });
    await writeFile(join(ws, 'requirements.txt'), exported);
    const theirs = join(ws, 'dist', 'app-by-pex.pex');
    const sources = ['app', 'lib', 'dyn'].flatMap((p) => ['-D', join(ws, p, 'src')]);
    await run(pexBinary()!, ['-r', join(ws, 'requirements.txt'), ...sources, '-e', 'app.main:main', '-o', theirs, '--index-url', env.PIP_INDEX_URL!, '--no-pypi'], { cwd: ws, env });
    const [a, b] = await Promise.all([run(ours, [], { env }), run(theirs, [], { env })]);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    expect((await activation(theirs)).inactive).toEqual([]);
  });
});

describe('the examples', () => {
  const projects = ['services/service-a', 'services/service-b', 'poetry-service', 'requirements-service'];

  it('covers every example project with console scripts', () => {
    const withScripts = (dir: string): string[] =>
      readdirSync(join(REPO, 'examples', dir), { withFileTypes: true }).flatMap((e) => {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        if (!e.isDirectory()) return [];
        const pyproject = join(REPO, 'examples', rel, 'pyproject.toml');
        if (existsSync(pyproject)) return /\[(project|tool\.poetry)\.scripts\]/.test(readFileSync(pyproject, 'utf8')) ? [rel] : [];
        return withScripts(rel);
      });
    expect(withScripts('').sort()).toEqual([...projects].sort());
  });

  it.each(projects)('%s: every .deps wheel of its PEX is active', async (project) => {
    const out = join(scratch, 'examples', project);
    await mkdir(out, { recursive: true });
    await build(['--project', join(REPO, 'examples', project), '--output-dir', out]);
    const pexes = readdirSync(out).filter((f) => f.endsWith('.pex'));
    expect(pexes.length).toBeGreaterThan(0);
    for (const pex of pexes) {
      const { wheels, inactive } = await activation(join(out, pex));
      expect(wheels.length).toBeGreaterThan(0);
      expect({ pex: relative(scratch, join(out, pex)), inactive }).toEqual({ pex: relative(scratch, join(out, pex)), inactive: [] });
    }
  });
});
