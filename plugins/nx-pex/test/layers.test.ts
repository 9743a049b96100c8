/**
 * `--layers` and `--docker` on a temporary copy of the example workspace with a third service
 * (service-c) whose third-party closure equals service-a's: one deps layer for both, written to
 * the store once and linked from it; the layers run with PEX_PATH and through
 * `venv --scope=deps` then `--scope=srcs`; Docker contexts that differ only in the sources
 * layer after a source edit; and the clear errors for bad input. Wheels come from a local index
 * on 127.0.0.1 serving the fixture cache.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { exampleWithServiceC, healthOf } from './layers-support';
import { exec, FIXTURE_WHEELS, requireBuiltCli, runCli, type CliResult } from './support';

jest.setTimeout(300_000);

let server: IndexServer;
let scratch: string;
let ws: string;
let env: NodeJS.ProcessEnv;
const store = () => join(scratch, 'store');

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { cwd: scratch, env });
const build = async (project: string, out: string, ...args: string[]): Promise<CliResult> => {
  const r = await cli('build', '--project', join(ws, project), '--output-dir', join(scratch, out), ...args);
  if (r.code !== 0) throw new Error(`nx-pex build ${project} failed:\n${r.stderr}`);
  return r;
};
/** The files below `dir`, relative to it, sorted; none when it does not exist. */
function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}
const noStack = (r: CliResult) => expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);

beforeAll(async () => {
  requireBuiltCli();
  server = await startIndexServer({ dir: FIXTURE_WHEELS });
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-layers-'));
  ws = await exampleWithServiceC(join(scratch, 'ws'));
  env = { PIP_INDEX_URL: server.url, NX_PEX_STORE: join(scratch, 'store'), PEX_ROOT: join(scratch, 'pex-root') };
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the deps layer, built once per closure', () => {
  let first: CliResult;
  let second: CliResult;

  beforeAll(async () => {
    first = await build('services/service-a', 'a', '--layers');
    second = await build('services/service-c', 'c', '--layers');
  });

  it('is byte-identical for two services with the same closure, and the second build reuses it', async () => {
    expect(first.stderr).toMatch(/service-a: deps layer [0-9a-f]{12} \(14 wheels\) written to the store/);
    expect(second.stderr).toMatch(/service-c: deps layer [0-9a-f]{12} \(14 wheels\) reused from the store/);
    const a = join(scratch, 'a/layers/deps.pex');
    const c = join(scratch, 'c/layers/deps.pex');
    expect((await readFile(a)).equals(await readFile(c))).toBe(true);
    expect((await readdir(join(store(), 'layers'))).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(1);
    // Hard links to the store's read-only file: nothing in dist/ lets a user write into the store.
    const [sa, sc] = await Promise.all([stat(a), stat(c)]);
    expect(sa.ino).toBe(sc.ino);
    expect(sa.mode & 0o222).toBe(0);
    expect(listFiles(join(scratch, 'a'))).toEqual(['layers/deps.pex', 'layers/service-a.pex', 'service-a.pex']);
  });

  it('holds the closure and the tools, and the sources layer the code and entry point', async () => {
    const info = async (pex: string) =>
      JSON.parse((await exec('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("PEX-INFO").decode())', pex])).stdout);
    const deps = await info(join(scratch, 'a/layers/deps.pex'));
    const srcs = await info(join(scratch, 'a/layers/service-a.pex'));
    expect(Object.keys(deps.distributions)).toHaveLength(14);
    expect(deps.requirements).toEqual(expect.arrayContaining([expect.stringMatching(/^fastapi==/), expect.stringMatching(/^starlette==/)]));
    expect(deps.entry_point).toBeUndefined();
    expect(deps.includes_tools).toBe(true);
    expect(srcs.distributions).toEqual({});
    expect(srcs.entry_point).toBe('service_a.main:main');
    expect(srcs.includes_tools).toBe(true);
    const { stdout } = await exec('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', join(scratch, 'a/layers/service-a.pex')]);
    expect(stdout).toMatch(/^service_a\/main\.py$/m);
    expect(stdout).toMatch(/^greeting\/messages\.txt$/m);
    expect(stdout).not.toMatch(/^\.deps\//m);
  });

  it('runs with PEX_PATH=layers/deps.pex layers/service-a.pex', async () => {
    const dir = join(scratch, 'a/layers');
    const body = await healthOf(join(dir, 'service-a.pex'), [], { ...process.env, ...env, PEX_PATH: join(dir, 'deps.pex') });
    expect(body).toEqual({ status: 'ok', service: 'service-a', greeting: 'Hello from greeting, service-a!' });
  });

  it('gives a working venv through venv --scope=deps, then --scope=srcs', async () => {
    const dir = join(scratch, 'c/layers');
    const venv = join(scratch, 'venv-c');
    const toolsEnv = { ...process.env, ...env, PEX_TOOLS: '1' };
    await exec('python3', [join(dir, 'deps.pex'), 'venv', '--scope=deps', venv], { env: toolsEnv });
    await exec('python3', [join(dir, 'service-c.pex'), 'venv', '--scope=srcs', venv], { env: toolsEnv });
    const body = await healthOf(join(venv, 'pex'), [], { ...process.env, ...env });
    expect(body).toEqual({ status: 'ok', service: 'service-c', greeting: 'Hello from greeting, service-c!' });
  });

  it('is another layer when what goes into it differs, and packed layers are directories of links', async () => {
    const r = await build('services/service-c', 'c-packed', '--layers', '--layout', 'packed');
    expect(r.stderr).toMatch(/deps layer [0-9a-f]{12} \(14 wheels\) written to the store/);
    const deps = join(scratch, 'c-packed/layers/deps.pex');
    expect((await stat(deps)).isDirectory()).toBe(true);
    const wheels = (await readdir(join(deps, '.deps'))).filter((n) => n.endsWith('.whl'));
    expect(wheels).toHaveLength(14);
    for (const w of [...wheels.map((n) => `.deps/${n}`), '.bootstrap']) {
      const st = await stat(join(deps, w));
      expect(st.nlink).toBeGreaterThan(1);
      expect(st.mode & 0o222).toBe(0);
    }
    // In the store, the layer's wheels are the store's wheel files themselves.
    const storeWheels = new Set<number>();
    for (const dir of await readdir(join(store(), 'wheels/sha256'))) {
      for (const f of await readdir(join(store(), 'wheels/sha256', dir))) storeWheels.add((await stat(join(store(), 'wheels/sha256', dir, f))).ino);
    }
    for (const w of wheels) expect(storeWheels.has((await stat(join(deps, '.deps', w))).ino)).toBe(true);
    expect((await readdir(join(store(), 'layers'))).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(2);
    const again = await build('services/service-a', 'a-packed', '--layers', '--layout', 'packed');
    expect(again.stderr).toMatch(/service-a: deps layer [0-9a-f]{12} \(14 wheels\) reused from the store/);
    // The sources layer boots from the deps layer's .bootstrap, the store's file: only its own files are written.
    const [srcsBoot, depsBoot] = await Promise.all(['layers/service-a.pex/.bootstrap', 'layers/deps.pex/.bootstrap'].map((f) => stat(join(scratch, 'a-packed', f))));
    expect(srcsBoot!.ino).toBe(depsBoot!.ino);
    const body = await healthOf('python3', [join(scratch, 'a-packed/layers/service-a.pex')], {
      ...process.env,
      ...env,
      PEX_PATH: join(scratch, 'a-packed/layers/deps.pex'),
    });
    expect(body).toMatchObject({ service: 'service-a' });
  });

  it('with fullPex false, writes only the layers: the sources layer, the deps layer linked from the store', async () => {
    const r = await build('services/service-a', 'a-only', '--layers', '--no-full-pex');
    expect(r.stderr).toMatch(/service-a: deps layer [0-9a-f]{12} \(14 wheels\) reused from the store/);
    expect(r.stderr).not.toMatch(/wrote .*service-a\.pex \(/);
    expect(listFiles(join(scratch, 'a-only'))).toEqual(['layers/deps.pex', 'layers/service-a.pex']);
    // What the build wrote: the sources layer alone; the deps layer is the store's file (one inode with every other build's).
    const [deps, srcs, storeDeps, full] = await Promise.all(
      ['a-only/layers/deps.pex', 'a-only/layers/service-a.pex', 'a/layers/deps.pex', 'a/service-a.pex'].map((f) => stat(join(scratch, f))),
    );
    expect(deps!.ino).toBe(storeDeps!.ino);
    expect(srcs!.nlink).toBe(1);
    // The full PEX holds the closure and the code; the sources layer only the code (and the pex runtime it boots with).
    expect(srcs!.size).toBeLessThan(full!.size - deps!.size / 2);
    const body = await healthOf(join(scratch, 'a-only/layers/service-a.pex'), [], { ...process.env, ...env, PEX_PATH: join(scratch, 'a-only/layers/deps.pex') });
    expect(body).toMatchObject({ service: 'service-a' });
    // Built again with the full PEX: it is written beside the layers; without, it goes again.
    await build('services/service-a', 'a-only', '--layers');
    expect(listFiles(join(scratch, 'a-only'))).toContain('service-a.pex');
    await build('services/service-a', 'a-only', '--layers', '--no-full-pex');
    expect(listFiles(join(scratch, 'a-only'))).toEqual(['layers/deps.pex', 'layers/service-a.pex']);
  });

  it('is counted and pruned by nx-pex cache', async () => {
    const info = await cli('cache', 'info', '--store', store());
    expect(info.stdout).toMatch(/^Layers: +2, /m);
    const json = JSON.parse((await cli('cache', 'info', '--json', '--store', store())).stdout);
    expect(json.layers.layers).toBe(2);
    expect(json.layers.bytes).toBeGreaterThan(4e6);
    const dry = await cli('cache', 'prune', '--older-than', '0', '--dry-run', '--store', store());
    expect(dry.stdout).toMatch(/^Would remove \d+ files .* and 2 layers/m);
    expect((await readdir(join(store(), 'layers'))).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(2);
  });
});

describe('the Docker context', () => {
  it('differs only in the sources layer between two builds around a source edit', async () => {
    const base = ['--layers', '--docker', '--docker-base-image', 'registry.example.com:5000/team/python:3.11-slim'];
    await build('services/service-a', 'd1', ...base);
    const main = join(ws, 'services/service-a/src/service_a/main.py');
    const before = await readFile(main, 'utf8');
    await writeFile(main, before.replace('SERVICE_NAME = "service-a"', '# edited\nSERVICE_NAME = "service-a"'));
    let r: CliResult;
    try {
      r = await build('services/service-a', 'd2', ...base);
    } finally {
      await writeFile(main, before);
    }
    expect(r.stderr).toMatch(/deps layer [0-9a-f]{12} \(14 wheels\) reused from the store/);
    const d1 = join(scratch, 'd1/docker');
    const d2 = join(scratch, 'd2/docker');
    const files = listFiles(d1);
    expect(files).toEqual(['.dockerignore', 'Dockerfile', 'deps.pex', 'service-a.pex']);
    expect(listFiles(d2)).toEqual(files);
    const differing: string[] = [];
    for (const f of files) if (!(await readFile(join(d1, f))).equals(await readFile(join(d2, f)))) differing.push(f);
    expect(differing).toEqual(['service-a.pex']);

    const dockerfile = await readFile(join(d1, 'Dockerfile'), 'utf8');
    const lines = dockerfile.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'FROM registry.example.com:5000/team/python:3.11-slim AS deps',
      'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root',
      'COPY ["deps.pex", "/nx-pex/deps.pex"]',
      'RUN ["python3.11", "/nx-pex/deps.pex", "venv", "--scope=deps", "--compile", "/app"]',
      'FROM registry.example.com:5000/team/python:3.11-slim AS srcs-service-a',
      'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root',
      'COPY ["service-a.pex", "/nx-pex/srcs.pex"]',
      'RUN ["python3.11", "/nx-pex/srcs.pex", "venv", "--scope=srcs", "--compile", "/app"]',
      'FROM registry.example.com:5000/team/python:3.11-slim AS service-a',
      'COPY --from=deps ["/app", "/app"]',
      'COPY --from=srcs-service-a ["/app", "/app"]',
      'ENTRYPOINT ["/app/pex"]',
    ]);
    expect(await readFile(join(d1, '.dockerignore'), 'utf8')).toBe('# Only what the Dockerfile copies.\n*\n!Dockerfile\n!deps.pex\n!service-a.pex\n');
  });

  it('defaults to python:X.Y-slim for the target, and drops layers/ and docker/ when no longer asked for', async () => {
    await build('services/service-c', 'c-docker', '--docker');
    const { stdout } = await exec('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    expect(await readFile(join(scratch, 'c-docker/docker/Dockerfile'), 'utf8')).toMatch(new RegExp(`^FROM python:${stdout.trim().replace('.', '\\.')}-slim AS deps$`, 'm'));
    expect(listFiles(join(scratch, 'c-docker'))).toEqual(['docker/.dockerignore', 'docker/Dockerfile', 'docker/deps.pex', 'docker/service-c.pex', 'service-c.pex']);
    await build('services/service-c', 'c-docker');
    expect(listFiles(join(scratch, 'c-docker'))).toEqual(['service-c.pex']);
  });
});

describe('bad input', () => {
  it('never replaces or removes a docker/ or layers/ directory that is not nx-pex\'s', async () => {
    // -o puts layers/ and docker/ next to the PEX: a project directory may have its own.
    const dir = join(scratch, 'users-own');
    for (const [name, file] of [['docker', 'Dockerfile'], ['layers', 'notes.txt']]) {
      await rm(join(dir, name), { recursive: true, force: true });
      await mkdir(join(dir, name), { recursive: true });
      await writeFile(join(dir, name, file), 'mine\n');
    }
    const out = join(dir, 'service-a.pex');
    const refused = await cli('build', '--project', join(ws, 'services/service-a'), '-o', out, '--docker');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`Refusing to replace ${join(dir, 'docker')}: it exists and is not an nx-pex layers or Docker directory`);
    noStack(refused);
    // Without the options, the stale-output cleanup leaves them alone too.
    const plain = await cli('build', '--project', join(ws, 'services/service-a'), '-o', out);
    expect(plain.code).toBe(0);
    expect(await readFile(join(dir, 'docker', 'Dockerfile'), 'utf8')).toBe('mine\n');
    expect(await readFile(join(dir, 'layers', 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a base image that is not an image reference, naming the project and the option', async () => {
    for (const bad of ['Python:3.11', 'python:3.11 slim', 'python:', 'python@sha256:abc', '${BASE}']) {
      const r = await cli('build', '--project', join(ws, 'services/service-a'), '--output-dir', join(scratch, 'bad'), '--docker', '--docker-base-image', bad);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`service-a: dockerBaseImage (\`docker-base-image\` in [tool.nx-pex], --docker-base-image) is "${bad}"`);
      noStack(r);
    }
    const toml = join(ws, 'services/service-b/pyproject.toml');
    const text = await readFile(toml, 'utf8');
    await writeFile(toml, `${text}\n[tool.nx-pex]\ndocker = true\ndocker-base-image = "UPPER/case"\n`);
    try {
      const r = await cli('build', '--project', join(ws, 'services/service-b'), '--output-dir', join(scratch, 'bad'));
      expect(r.stderr).toContain('service-b: dockerBaseImage');
      expect(r.stderr).toContain('"UPPER/case"');
    } finally {
      await writeFile(toml, text);
    }
  });

  it('refuses docker for a project with nothing to run', async () => {
    const r = await cli('build', '--project', join(ws, 'libs/greeting'), '--output-dir', join(scratch, 'bad'), '--docker');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/greeting: docker \(--docker\) needs something for the image to run, but greeting has no console script or entry point/);
    noStack(r);
  });

  it('refuses fullPex false with nothing else to write, and without a project', async () => {
    const r = await cli('build', '--project', join(ws, 'services/service-b'), '--output-dir', join(scratch, 'bad'), '--no-full-pex');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/service-b: fullPex: false \(`full-pex = false` in \[tool.nx-pex\], --no-full-pex\) leaves nothing to write without layers or docker/);
    noStack(r);
    const q = await cli('build', 'fastapi', '-o', join(scratch, 'bad/x.pex'), '--no-full-pex');
    expect(q.stderr).toMatch(/--no-full-pex applies to project builds/);
  });

  it('refuses layers without a project, and without the tools', async () => {
    const r = await cli('build', 'fastapi', '-o', join(scratch, 'bad/x.pex'), '--layers');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--layers applies to project builds: give --project DIR/);
    const toml = join(ws, 'services/service-b/pyproject.toml');
    const text = await readFile(toml, 'utf8');
    await writeFile(toml, `${text}\n[tool.nx-pex]\nlayers = true\ninclude-tools = false\n`);
    try {
      const t = await cli('build', '--project', join(ws, 'services/service-b'), '--output-dir', join(scratch, 'bad'));
      expect(t.stderr).toMatch(/service-b: layers \(--layers\) needs the pex tools in both layers/);
      noStack(t);
    } finally {
      await writeFile(toml, text);
    }
  });
});
