/**
 * pex's own JSON lock: locks made by the pinned `pex3 lock create` (styles strict, sources and
 * universal) against a local index of real files (.cache/parity-index), built by `nx-pex build
 * --lock lock.json` and by `pex --lock lock.json` with the same requirements and target. Both
 * must choose the same files (PEX-INFO `distributions`) and write the same `requirements`, or
 * both refuse; nx-pex's PEX files must run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '@nx-pex/testkit';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { REPO, requireBuiltCli } from './support';

jest.setTimeout(300_000);

const PEX_BIN = join(REPO, '.cache', 'pex-venv', 'bin');
const NX_PEX = join(__dirname, '..', 'bin', 'nx-pex.js');
const INDEX_DIR = join(REPO, '.cache', 'parity-index');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd: scratch, maxBuffer: 64 << 20, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, stderr });
    });
  });
}

let scratch: string;
let server: IndexServer;
let env: NodeJS.ProcessEnv;

async function pexInfo(file: string): Promise<{ distributions: string[]; requirements: string[] }> {
  const r = await run('unzip', ['-p', file, 'PEX-INFO'], env);
  const info = JSON.parse(r.stdout) as { distributions: Record<string, string>; requirements: string[] };
  return { distributions: Object.keys(info.distributions).sort(), requirements: info.requirements };
}

async function lock(name: string, args: string[]): Promise<string> {
  const out = join(scratch, name);
  const r = await run(join(PEX_BIN, 'pex3'), ['lock', 'create', '--no-pypi', '--index-url', server.url, '--indent', '2', '-o', out, ...args], env);
  if (r.code !== 0) throw new Error(`pex3 lock create ${args.join(' ')} failed:\n${r.stderr}`);
  return out;
}

/** Builds with both tools; returns each one's PEX-INFO, or its error. */
async function both(lockFile: string, args: string[], tag: string) {
  const pexOut = join(scratch, `pex-${tag}.pex`);
  const nxOut = join(scratch, `nx-${tag}.pex`);
  const [p, n] = await Promise.all([
    run(join(PEX_BIN, 'pex'), ['--lock', lockFile, '--no-pypi', '--index-url', server.url, ...args, '-o', pexOut], env),
    run(process.execPath, [NX_PEX, 'build', '--lock', lockFile, '--no-pypi', '--index-url', server.url, '--store', join(scratch, 'store'), ...args, '-o', nxOut], env),
  ]);
  return {
    pex: p.code === 0 ? await pexInfo(pexOut) : { error: p.stderr },
    nx: n.code === 0 ? await pexInfo(nxOut) : { error: n.stderr },
    nxOut,
    nxRun: n,
  };
}

describeWith(['pex', 'linux-x64'], 'nx-pex build --lock <pex lock> against pex --lock', () => {
  let strict: string;
  let sources: string;
  let universal: string;

  beforeAll(async () => {
    requireBuiltCli();
    scratch = await mkdtemp(join(tmpdir(), 'nx-pex-pexlock-'));
    server = await startIndexServer({ dir: INDEX_DIR });
    env = { ...process.env, PEX_ROOT: join(scratch, 'pex-root'), PIP_CONFIG_FILE: '/dev/null', PIP_FIND_LINKS: '', NX_PEX_STORE: join(scratch, 'store') };
    [strict, sources, universal] = await Promise.all([
      lock('strict.json', ['--style', 'strict', 'requests', 'click']),
      lock('sources.json', ['--style', 'sources', 'requests', 'click']),
      lock('universal.json', ['--style', 'universal', '--interpreter-constraint', '>=3.10,<3.14', 'requests', 'click']),
    ]);
  });

  afterAll(async () => {
    await server?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it.each([
    ['strict', () => strict],
    ['sources', () => sources],
    ['universal', () => universal],
  ])('a %s lock without requirements: the same files and requirements as pex, and the PEX runs', async (style, file) => {
    const r = await both(file(), [], `${style}-all`);
    expect(r.nx).toEqual(r.pex);
    expect(r.nx).toMatchObject({ requirements: ['click', 'requests'] });
    expect((r.nx as { distributions: string[] }).distributions).toHaveLength(6);
    const out = await run('python3', [r.nxOut, '-c', 'import click, requests; print(requests.__version__, click.__name__)'], { ...env, PEX_ROOT: join(scratch, 'run-root') });
    expect(out.stdout.trim()).toBe('2.34.2 click');
  });

  it('a subset of the lock: the named requirement and its closure only', async () => {
    const r = await both(strict, ['click'], 'strict-click');
    expect(r.nx).toEqual(r.pex);
    expect(r.nx).toEqual({ requirements: ['click'], distributions: ['click-8.5.1-py3-none-any.whl'] });
  });

  it('a universal lock for a foreign platform: the subset pex takes (a pure wheel fits)', async () => {
    const r = await both(universal, ['--platform', 'macosx_11_0_arm64-cp-312-cp312', 'click'], 'univ-mac');
    expect(r.nx).toEqual(r.pex);
    expect(r.nx).toMatchObject({ distributions: ['click-8.5.1-py3-none-any.whl'] });
  });

  it('both refuse what the lock cannot give: an extra whose dependency is not locked, a platform without files', async () => {
    const socks = await both(strict, ['requests[socks]'], 'socks');
    expect(socks.pex).toHaveProperty('error');
    expect((socks.pex as { error: string }).error).toMatch(/Dependency on pysocks/);
    expect(socks.nx).toHaveProperty('error');
    expect((socks.nx as { error: string }).error).toMatch(/Dependency on pysocks \(via: requests\[socks\] -> PySocks/);
    expect(socks.nxRun.stderr).not.toMatch(/\n\s+at /);

    const mac = await both(universal, ['--platform', 'macosx_11_0_arm64-cp-312-cp312', 'requests'], 'univ-mac-requests');
    expect(mac.pex).toHaveProperty('error');
    expect(mac.nx).toHaveProperty('error');
    expect((mac.nx as { error: string }).error).toMatch(/charset-normalizer 3\.5\.3 has no file for macosx_11_0_arm64-cp-312-cp312: charset_normalizer-3.5.3-cp311/);
  });

  it('a JSON file that is not a pex lock is named as an unknown lock format', async () => {
    const other = join(scratch, 'package-lock.json');
    await writeFile(other, JSON.stringify({ name: 'x', lockfileVersion: 3, packages: {} }, null, 2));
    const r = await run(process.execPath, [NX_PEX, 'build', '--lock', other, 'click', '-o', join(scratch, 'x.pex')], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/package-lock\.json: unknown lock format: it is JSON but not a pex lock/);
    expect(r.stderr).not.toMatch(/is not a valid requirement/);
  });
});
