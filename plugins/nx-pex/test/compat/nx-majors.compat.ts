/**
 * nx-pex on each Nx major it supports (22, 23, 24), installed as a team installs it: the packed
 * package published to a registry (Verdaccio on 127.0.0.1, proxying npm), then `nx add nx-pex` in
 * a workspace made by that major's `create-nx-workspace --preset=apps` (24 has none on the
 * registry: an empty npm project with nx@24, as `npx nx@24 init` leaves one). In each, the steps
 * of docs/install.md: no @nx/devkit of another major, init's uv workspace root, a library and a
 * service from the generators (uv lock and the sync), a build, `nx affected` after an edit of the
 * library, `nx sync:check`.
 *
 * Not part of `npm test` (it installs three workspaces from npm, several minutes): `npm run compat`
 * runs it, and .ci/run calls that.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeWith, uvBinary } from '@nx-pex/testkit';
import { startRegistry, type Registry } from '../registry';
import { copyFixtureWheel, exec, REPO } from '../support';
import { freePort } from '../workspace-support';

jest.setTimeout(1_200_000);

const SIX = 'six-1.17.0-py2.py3-none-any.whl';
const PLUGIN = join(REPO, 'plugins', 'nx-pex');
const MAJORS = (process.env.NX_PEX_COMPAT_MAJORS ?? '22,23,24').split(',').map(Number);

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false' };
  for (const k of Object.keys(e)) if (k.startsWith('npm_') || k === 'INIT_CWD') delete e[k];
  delete e.PIP_INDEX_URL;
  delete e.PIP_EXTRA_INDEX_URL;
  delete e.CI;
  return { ...e, ...extra };
}

async function sh(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env: env(extra), maxBuffer: 64 << 20, timeout: 900_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

/** Every version of @nx/devkit installed in the workspace. */
async function devkitVersions(ws: string): Promise<string[]> {
  const { stdout } = await exec('npm', ['ls', '@nx/devkit', '--all', '--json'], { cwd: ws, env: env(), maxBuffer: 64 << 20 }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  const found = new Set<string>();
  const walk = (deps: Record<string, { version?: string; dependencies?: Record<string, unknown> }> | undefined) => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (name === '@nx/devkit' && d.version) found.add(d.version);
      walk(d.dependencies as never);
    }
  };
  walk((JSON.parse(stdout) as { dependencies?: never }).dependencies);
  return [...found].sort();
}

describeWith(['network', 'linux-x64', 'uv'], 'nx-pex on Nx 22, 23 and 24', () => {
  let scratch: string;
  let registry: Registry;
  let findLinks: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-compat-'));
    // npm pack runs the package's prepack (the bundle and the checked pex wheel).
    const { stdout: packed } = await exec('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: PLUGIN, env: env(), maxBuffer: 64 << 20 });
    const tarball = join(scratch, (JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string }>)[0]!.filename);
    registry = await startRegistry(join(scratch, 'registry'), await freePort());
    const publisher = join(scratch, 'publisher');
    await mkdir(publisher);
    await writeFile(join(publisher, '.npmrc'), registry.npmrc);
    await sh('npm', ['publish', tarball], publisher);
    findLinks = join(scratch, 'find-links');
    await copyFixtureWheel(findLinks, SIX);
  });

  afterAll(async () => {
    await registry?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** A new workspace of Nx `major`, as that major's tools make it, with npm pointed at the registry. */
  async function newWorkspace(major: number): Promise<string> {
    const ws = join(scratch, `nx${major}`);
    if (major <= 23) {
      await sh('npx', ['-y', `create-nx-workspace@${major}`, `nx${major}`, '--preset=apps', '--nxCloud=skip', '--no-interactive', '--packageManager=npm'], scratch);
    } else {
      await mkdir(ws);
      await sh('npm', ['init', '-y'], ws);
      await sh('npm', ['install', '--no-audit', '--no-fund', '--save-dev', `nx@${major}`], ws);
      await writeFile(join(ws, '.gitignore'), 'node_modules\n.nx\n');
      await sh('git', ['init', '-q'], ws);
    }
    await writeFile(join(ws, '.npmrc'), registry.npmrc);
    return ws;
  }

  it.each(MAJORS)('Nx %i: nx add nx-pex (no @nx/devkit of another major), build, affected, sync', async (major) => {
    const ws = await newWorkspace(major);
    const nxVersion = JSON.parse(await readFile(join(ws, 'node_modules', 'nx', 'package.json'), 'utf8')).version as string;
    expect(nxVersion).toMatch(new RegExp(`^${major}\\.`));

    const added = await sh('npx', ['--no-install', 'nx', 'add', 'nx-pex'], ws);
    expect(added).not.toMatch(/nx-pex supports Nx/);
    const nxJson = JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8'));
    expect(nxJson.plugins).toContainEqual({ plugin: 'nx-pex', options: { buildTargetName: 'build', testTargetName: 'test' } });
    // nx-pex takes Nx's API from the workspace's nx and brings no @nx/devkit: the workspace keeps
    // the one it had (create-nx-workspace's, of its major), or none.
    const devkits = await devkitVersions(ws);
    expect(devkits.length).toBeLessThanOrEqual(1);
    for (const v of devkits) expect(v).toMatch(new RegExp(`^${major}\\.`));

    // The newcomer's steps (docs/install.md): init made the uv workspace root; the generators add
    // projects, run `uv lock` and the sync.
    expect(added).toMatch(/nx-pex: created pyproject\.toml, a uv workspace root with members services\/\*, libs\/\*/);
    const withUv = { PATH: `${dirname(uvBinary()!)}:${process.env.PATH}`, UV_OFFLINE: '1' };
    await sh('npx', ['--no-install', 'nx', 'g', 'nx-pex:python-library', 'greeting', '--no-interactive'], ws, withUv);
    const typo = await sh('npx', ['--no-install', 'nx', 'g', 'nx-pex:python-service', 'billing', '--dependencies=greting', '--no-interactive'], ws, withUv).catch((e: Error) => e.message);
    expect(typo).toMatch(/"greting", which is not a project of this workspace .* run again with --allow-external/s);
    const gen = await sh('npx', ['--no-install', 'nx', 'g', 'nx-pex:python-service', 'billing', '--dependencies=greeting', '--no-interactive'], ws, withUv);
    expect(gen).toMatch(/nx-pex: wrote .*services\/billing\/pylock\.toml from the uv\.lock/);
    await sh('npx', ['--no-install', 'nx', 'sync:check'], ws);
    const build = { PIP_NO_INDEX: '1', PIP_FIND_LINKS: findLinks, NX_PEX_STORE: join(scratch, 'store') };
    await sh('npx', ['--no-install', 'nx', 'build', 'billing'], ws, build);
    const pex = join(ws, 'dist', 'services', 'billing', 'billing.pex');
    expect((await sh('python3', [pex], ws)).trim()).toBe('Hello from billing!');

    await sh('git', ['add', '-A'], ws);
    await sh('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'python projects'], ws);
    const lib = join(ws, 'libs', 'greeting', 'src', 'greeting', '__init__.py');
    await writeFile(lib, `${await readFile(lib, 'utf8')}\nEDITED = True\n`);
    const affected = await sh('npx', ['--no-install', 'nx', 'show', 'projects', '--affected', '--base=HEAD'], ws);
    expect(affected.split('\n').map((l) => l.trim()).filter((l) => l === 'billing' || l === 'greeting').sort()).toEqual(['billing', 'greeting']);
    const ran = await sh('npx', ['--no-install', 'nx', 'affected', '-t', 'build', '--base=HEAD'], ws, build);
    expect(ran).toMatch(/nx run billing:build/);
    await sh('npx', ['--no-install', 'nx', 'sync:check'], ws);
  });
});
