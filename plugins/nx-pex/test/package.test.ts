/**
 * nx-pex as people install it: a fresh clone with one `npm ci`; the packed package installed
 * alone into an empty directory and building with no index but a find-links directory (the pex
 * runtime comes from the package); and `nx add nx-pex` from a registry (Verdaccio on 127.0.0.1)
 * into a new Nx workspace that then builds and runs a PEX. These install npm packages (from npm's
 * cache where it has them, else from the npm registry: they need the network) and take a minute
 * or two each.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PINNED_PEX } from '@nx-pex/pex';
import { describeWith, itWith } from '@nx-pex/testkit';
import { startRegistry, type Registry } from './registry';
import { copyFixtureWheel, exec, FIXTURE_WHEELS, REPO, uvLockText, writeWorkspace } from './support';
import { freePort } from './workspace-support';

jest.setTimeout(600_000);

const SIX = 'six-1.17.0-py2.py3-none-any.whl';
const PLUGIN = join(REPO, 'plugins', 'nx-pex');

let scratch: string;
let tarball: string;

/** The environment of an install or build here: no pip configuration but what a test gives. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
  for (const k of Object.keys(e)) if (k.startsWith('npm_') || k === 'INIT_CWD') delete e[k];
  delete e.PIP_INDEX_URL;
  delete e.PIP_EXTRA_INDEX_URL;
  return { ...e, ...extra };
}

/** Runs a command; its stdout and stderr, or (`stdoutOnly`) its stdout alone; a failure throws with both. */
async function sh(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}, stdoutOnly = false): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env: env(extra), maxBuffer: 64 << 20 });
    return stdoutOnly ? stdout : stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

/** A find-links directory holding only the six wheel: with PIP_NO_INDEX, the only place to get files. */
async function sixOnly(): Promise<string> {
  const dir = join(scratch, 'find-links');
  if (!existsSync(join(dir, SIX))) await copyFixtureWheel(dir, SIX);
  return dir;
}

beforeAll(async () => {
  if (!existsSync(join(FIXTURE_WHEELS, SIX))) throw new Error(`${SIX} is missing: run \`python3 tools/fixtures/fetch.py\` first.`);
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-package-'));
  // npm pack runs the package's prepack: the bundle and the checked pex wheel.
  const packed = await sh('npm', ['pack', '--json', '--pack-destination', scratch], PLUGIN, {}, true);
  const [info] = JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(scratch, info!.filename);
  expect(info!.files.map((f) => f.path)).toEqual(expect.arrayContaining(['bin/nx-pex.js', 'lib/cli.js', 'lib/index.js', `pex/${PINNED_PEX.filename}`]));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

itWith(['network'], 'a fresh clone with one `npm ci` has a working `npx nx-pex`', async () => {
  const clone = join(scratch, 'clone');
  await sh('git', ['clone', '--quiet', REPO, clone], scratch);
  await sh('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], clone);
  const help = await sh('npx', ['--no-install', 'nx-pex', '--help'], clone);
  expect(help).toContain('nx-pex build --project DIR');
});

itWith(['network'], 'the packed package installs alone and builds from a find-links directory with indexes off', async () => {
  const app = join(scratch, 'alone');
  await mkdir(app, { recursive: true });
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'alone', private: true }));
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
  expect(Object.keys(pkg.dependencies)).toEqual(['nx-pex']);
  // None of nx-pex's own packages is a separate install: they are inside its bundle.
  expect(existsSync(join(app, 'node_modules', '@nx-pex'))).toBe(false);

  const store = join(scratch, 'alone-store');
  const built = await sh('npx', ['--no-install', 'nx-pex', 'build', 'six==1.17.0', '-o', 'six.pex'], app, {
    PIP_NO_INDEX: '1',
    PIP_FIND_LINKS: await sixOnly(),
    NX_PEX_STORE: store,
  });
  expect(built).toContain('wrote six.pex');
  const out = await sh('python3', [join(app, 'six.pex'), '-c', 'import six; print(six.__version__)'], app);
  expect(out.trim()).toBe('1.17.0');
  // The runtime came from the package: the store holds exactly the six wheel and the pex wheel.
  const files = readdirSync(join(store, 'wheels', 'sha256'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  expect(files).toHaveLength(2);
});

describeWith(['network'], 'nx add nx-pex from a registry', () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry(join(scratch, 'registry'), await freePort());
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('adds the plugin to a new Nx workspace, which then builds and runs a PEX', async () => {
    const publisher = join(scratch, 'publisher');
    await mkdir(publisher, { recursive: true });
    await writeFile(join(publisher, '.npmrc'), registry.npmrc);
    await sh('npm', ['publish', tarball], publisher);

    const ws = join(scratch, 'workspace');
    await mkdir(ws, { recursive: true });
    await writeFile(join(ws, '.npmrc'), registry.npmrc);
    await sh('npm', ['init', '-y'], ws);
    await sh('npm', ['install', '--no-audit', '--no-fund', '--save-dev', `nx@${require('nx/package.json').version}`], ws);
    await sh('npx', ['--no-install', 'nx', 'add', 'nx-pex'], ws);

    const nxJson = JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8'));
    expect(nxJson.plugins).toEqual([{ plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } }]);
    expect((await readFile(join(ws, '.gitignore'), 'utf8')).split('\n')).toContain('dist');
    const manifest = JSON.parse(await readFile(join(ws, 'package.json'), 'utf8'));
    expect({ ...manifest.dependencies, ...manifest.devDependencies }).toHaveProperty('nx-pex');

    // `nx add` twice changes nothing.
    await sh('npx', ['--no-install', 'nx', 'g', 'nx-pex:init'], ws);
    expect(JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8')).plugins).toHaveLength(1);

    const six = { filename: SIX, sha256: '', size: 0 };
    const wheel = await readFile(join(FIXTURE_WHEELS, SIX));
    six.sha256 = require('node:crypto').createHash('sha256').update(wheel).digest('hex');
    six.size = wheel.length;
    await writeWorkspace(ws, {
      project: 'hello',
      pyproject:
        '[project]\nname = "hello"\nversion = "0.1.0"\nrequires-python = ">=3.8"\ndependencies = ["six==1.17.0"]\n\n' +
        '[project.scripts]\nhello = "hello.main:main"\n',
      sources: { 'main.py': 'import six\n\n\ndef main():\n    print(f"hello from six {six.__version__}")\n' },
      lock: uvLockText({
        project: 'hello',
        dependencies: ['six'],
        requiresDist: [{ name: 'six', specifier: '==1.17.0' }],
        registry: 'https://pypi.org/simple',
        wheels: [{ name: 'six', version: '1.17.0', file: six }],
      }),
    });
    // The project's own lock, written from uv.lock by nx-pex's sync generator (CI runs it explicitly).
    await sh('npx', ['--no-install', 'nx', 'sync'], ws);
    expect(await readFile(join(ws, 'hello', 'pylock.toml'), 'utf8')).toMatch(/^# .*uv\.lock/);
    await sh('npx', ['--no-install', 'nx', 'build', 'hello'], ws, { PIP_NO_INDEX: '1', PIP_FIND_LINKS: await sixOnly(), NX_PEX_STORE: join(scratch, 'ws-store') });
    const out = await sh('python3', [join(ws, 'dist', 'hello', 'hello.pex')], ws);
    expect(out.trim()).toBe('hello from six 1.17.0');
  });
});
