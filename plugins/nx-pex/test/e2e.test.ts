/**
 * End to end: the example monorepo copied into a temporary Nx workspace, built with the real
 * `nx`, and the PEX files run with python3. Wheels come from a local index on 127.0.0.1 that
 * serves the git-ignored fixture cache (filled by `python3 tools/fixtures/fetch.py`); the lock's
 * pypi.org URLs are mapped to it the way a company mirror configured in pip is.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IndexServer } from '@nx-pex/index-server';
import { FIXTURE_WHEELS as WHEELS } from './support';
import { freePort, makeWorkspace, NX, sh, startWorkspaceIndex, withBackendWheels } from './workspace-support';

const run = promisify(execFile);

jest.setTimeout(300_000);

let server: IndexServer;
let scratch: string;
let env: NodeJS.ProcessEnv;

const nx = (root: string, ...args: string[]): Promise<string> => sh(root, NX, args, env);

async function getHealth(pex: string): Promise<unknown> {
  const port = await freePort();
  const child: ChildProcess = spawn(pex, ['--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${pex} exited with ${child.exitCode}:\n${output}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        return await res.json();
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`${pex} did not answer on port ${port}:\n${output}`);
  } finally {
    child.kill('SIGTERM');
  }
}

async function runServiceB(pex: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(pex, args, { env });
  return JSON.parse(stdout);
}

async function pexInfo(pex: string): Promise<Record<string, any>> {
  const { stdout } = await run('python3', [
    '-c',
    'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())',
    pex,
  ]);
  return JSON.parse(stdout);
}

beforeAll(async () => {
  ({ server, scratch, env } = await startWorkspaceIndex('nx-pex-e2e-', 'pex-'));
  // The Poetry 1 project's metadata comes from its backend (poetry-core).
  env = withBackendWheels(env);
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('nx build of the example monorepo', () => {
  let ws: string;
  const serviceA = () => join(ws, 'dist/examples/services/service-a/service-a.pex');
  const serviceB = () => join(ws, 'dist/examples/services/service-b/service-b.pex');

  beforeAll(async () => {
    ws = await makeWorkspace(join(scratch, 'first'));
  });

  it('infers projects, targets and the graph from pyproject.toml files', async () => {
    const out = join(ws, 'graph.json');
    await nx(ws, 'graph', `--file=${out}`);
    const { graph } = JSON.parse(await readFile(out, 'utf8'));
    const a = graph.nodes['service-a'].data;
    expect(a.root).toBe('examples/services/service-a');
    expect(a.targets.build).toMatchObject({
      executor: 'nx-pex:build',
      cache: true,
      outputs: ['{workspaceRoot}/dist/{projectRoot}'],
      options: { scripts: ['service-a'] },
    });
    expect(a.targets.build.inputs).toEqual(
      expect.arrayContaining(['python-sources', '^python-sources', '{projectRoot}/pylock.toml']),
    );
    expect(graph.nodes.greeting.data.targets.build).toBeUndefined();
    const targetsOf = (p: string) => graph.dependencies[p].map((d: { target: string }) => d.target);
    expect(targetsOf('service-a')).toContain('greeting');
    expect(targetsOf('service-b')).toContain('greeting');
  });

  it('builds service-a into a PEX that serves /health', async () => {
    const log = await nx(ws, 'build', 'service-a');
    expect(log).toMatch(/Successfully ran target build for project service-a/);
    const body = await getHealth(serviceA());
    expect(body).toEqual({ status: 'ok', service: 'service-a', greeting: 'Hello from greeting, service-a!' });
  });

  it('writes PEX-INFO with the locked wheels by sha256 and the pinned pex version', async () => {
    const info = await pexInfo(serviceA());
    expect(info.deps_are_wheel_files).toBe(true);
    expect(info.entry_point).toBe('service_a.main:main');
    expect(info.build_properties.pex_version).toBe('2.105.2');
    const lock = await readFile(join(ws, 'examples/uv.lock'), 'utf8');
    const names = Object.keys(info.distributions).sort();
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^fastapi-/), expect.stringMatching(/^pydantic_core-.*cp311/)]));
    for (const name of names) {
      const wheel = await readFile(join(WHEELS, name));
      const sha = createHash('sha256').update(wheel).digest('hex');
      expect(info.distributions[name]).toBe(sha);
      expect(lock).toContain(`${name}`);
      expect(lock).toContain(`sha256:${sha}`);
    }
    expect(names.some((n) => n.startsWith('numpy-'))).toBe(false);
    expect(info.requirements).toEqual(expect.arrayContaining(['fastapi', 'uvicorn']));
    expect(info.requirements).not.toContain('greeting');
  });

  it('builds service-b with numpy and prints mean and standard deviation', async () => {
    await nx(ws, 'build', 'service-b');
    const out = await runServiceB(serviceB(), '1', '2', '3');
    expect(out.mean).toBe(2.0);
    expect(out.std).toBeCloseTo(0.816496580927726, 12);
    expect(out.greeting).toBe('Hello from greeting, service-b!');
  });

  it('is a cache hit the second time, and rebuilds both services when greeting changes', async () => {
    const again = await nx(ws, 'build', 'service-a');
    expect(again).toMatch(/\[(local cache|existing outputs match the cache, left as is)\]/);

    const messages = join(ws, 'examples/libs/greeting/src/greeting/messages.txt');
    await writeFile(messages, 'Howdy from the edited greeting, {name}!\n');
    const rebuiltA = await nx(ws, 'build', 'service-a');
    expect(rebuiltA).not.toMatch(/\[local cache\]/);
    const rebuiltB = await nx(ws, 'build', 'service-b');
    expect(rebuiltB).not.toMatch(/\[local cache\]/);
    expect((await runServiceB(serviceB(), '4')).greeting).toBe('Howdy from the edited greeting, service-b!');
    expect(await getHealth(serviceA())).toMatchObject({ greeting: 'Howdy from the edited greeting, service-a!' });
  });

  it('builds the Poetry project from its poetry.lock (main group only) and the project locked by a hashed requirements file', async () => {
    await nx(ws, 'build', 'poetry-service');
    const poetryPex = join(ws, 'dist/examples/poetry-service/poetry-service.pex');
    const { stdout } = await run(poetryPex, ['widget', '3'], { env });
    expect(JSON.parse(stdout)).toEqual({ service: 'poetry-service', record: { name: 'widget', count: 3 } });
    const poetryInfo = await pexInfo(poetryPex);
    const lock = await readFile(join(ws, 'examples/poetry-service/poetry.lock'), 'utf8');
    for (const [name, sha] of Object.entries(poetryInfo.distributions)) expect(lock).toContain(`{file = "${name}", hash = "sha256:${sha}"}`);
    expect(Object.keys(poetryInfo.distributions).some((n) => n.startsWith('iniconfig-'))).toBe(false);
    expect(poetryInfo.requirements).toEqual(['click==8.5.1', 'pydantic==2.14.3']);

    await nx(ws, 'build', 'requirements-service');
    const reqPex = join(ws, 'dist/examples/requirements-service/requirements-service.pex');
    const out = await run(reqPex, ['2', '5'], { env });
    expect(JSON.parse(out.stdout)).toEqual({ service: 'requirements-service', squares: [4, 25] });
    const hashed = await readFile(join(ws, 'examples/requirements-service/requirements.txt'), 'utf8');
    for (const sha of Object.values((await pexInfo(reqPex)).distributions)) expect(hashed).toContain(`--hash=sha256:${sha}`);
  });

  it('gives byte-identical PEX files from another checkout path', async () => {
    const other = await makeWorkspace(join(scratch, 'second-checkout-at-another-path'));
    await writeFile(
      join(other, 'examples/libs/greeting/src/greeting/messages.txt'),
      'Howdy from the edited greeting, {name}!\n',
    );
    await nx(other, 'build', 'service-a', '--skip-nx-cache');
    const mine = await readFile(serviceA());
    const theirs = await readFile(join(other, 'dist/examples/services/service-a/service-a.pex'));
    expect(theirs.length).toBe(mine.length);
    expect(theirs.equals(mine)).toBe(true);
  });

  it('builds every service in one process with --batch, giving the same bytes', async () => {
    const before = { a: await readFile(serviceA()), b: await readFile(serviceB()) };
    const log = await nx(ws, 'run-many', '-t', 'build', '--batch', '--skip-nx-cache');
    // Nx's line for a batch: every build task (the two uv services, and the examples locked by a
    // poetry.lock and by a hashed requirements file) went to the batch implementation, in one process.
    expect(log).toMatch(/Running 4 tasks with nx-pex:build/);
    expect(log).toMatch(/Successfully ran target build for 4 projects/);
    expect((await readFile(serviceA())).equals(before.a)).toBe(true);
    expect((await readFile(serviceB())).equals(before.b)).toBe(true);
  });
});
