/**
 * `nx-pex build` against the real pex (the pinned version, in .cache/pex-venv) for the commands
 * pex users type: loose requirements, extras, a local setuptools project with a requirements
 * file, wheel files with `--no-transitive`, and an sdist-only pin. Both tools run as a user runs
 * them, with the same arguments and `--no-pypi --index-url` of a local index on 127.0.0.1 that
 * serves a fixed set of real files (.cache/parity-index, filled by tools/fixtures/fetch.py);
 * each PEX must hold the same files in PEX-INFO `distributions`, and nx-pex's PEX files must run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIndexServer, type IndexServer } from '@nx-pex/index-server';
import { REPO, requireBuiltCli } from './support';

jest.setTimeout(600_000);

const PEX = join(REPO, '.cache', 'pex-venv', 'bin', 'pex');
/** The `nx-pex` command as npm installs it (it runs the bundled CLI in lib/). */
const NX_PEX = join(__dirname, '..', 'bin', 'nx-pex.js');
const INDEX_DIR = join(REPO, '.cache', 'parity-index');
const HELLO = join(__dirname, 'fixtures', 'pex-parity', 'hello');
/** The wheels of `wheelhouse/*.whl`: uvicorn[standard]'s closure for CPython 3.11 on linux, as `uv export` would list it. */
const WHEELHOUSE = /^(uvicorn-0\.54\.0|click-8\.5\.1|h11-|httptools-|python_dotenv-|pyyaml-.*x86_64|uvloop-0\.23\.0|watchfiles-|anyio-4\.16\.0|idna-3\.20|typing_extensions-4\.16\.0-|websockets-17\.4)/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 64 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code as number | null) ?? 1 : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** Runs `jobs` at most `limit` at a time, in order of start. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

let scratch: string;
let server: IndexServer;
let env: NodeJS.ProcessEnv;

interface Case {
  id: string;
  /** The arguments after `pex` / `nx-pex build`, before `-o`. */
  args: () => string[];
  cwd: () => string;
  /** What the nx-pex PEX is run with, and what it must print. */
  check: { args: string[]; stdout: RegExp };
}

const CASES: Case[] = [
  {
    id: 'a',
    args: () => ['requests'],
    cwd: () => scratch,
    check: { args: ['-c', 'import requests; print(requests.__version__)'], stdout: /^2\.34\.2$/ },
  },
  {
    id: 'b',
    args: () => ['fastapi', 'uvicorn[standard]', '-c', 'uvicorn'],
    cwd: () => scratch,
    check: { args: ['--version'], stdout: /^Running uvicorn 0\.54\.0 with CPython 3\.\d+\.\d+ on Linux$/ },
  },
  {
    id: 'c',
    args: () => ['.', '-r', 'requirements.txt', '-c', 'hello'],
    cwd: () => join(scratch, 'hello'),
    check: { args: [], stdout: /^hello from hello-app 1\.0\.0: requests 2\.34\.2, urllib3 1\.26\.20, click 8\.5\.1, cryptography 50\.0\.2, networkx 3\.6\.1$/ },
  },
  {
    id: 'd',
    args: () => [...wheelhouse, '--no-transitive', '-c', 'uvicorn'],
    cwd: () => scratch,
    check: { args: ['--version'], stdout: /^Running uvicorn 0\.54\.0 with CPython 3\.\d+\.\d+ on Linux$/ },
  },
  {
    id: 'e',
    args: () => ['docopt==0.6.2'],
    cwd: () => scratch,
    check: { args: ['-c', 'import docopt; print(docopt.__version__)'], stdout: /^0\.6\.2$/ },
  },
];

let wheelhouse: string[] = [];
const built: Record<string, { pex: Run; nxPex: Run }> = {};

const output = (tool: 'pex' | 'nx-pex', id: string) => join(scratch, 'out', tool, `${id}.pex`);

/** The PEX-INFO of each file, read by one python3. */
async function pexInfos(...pexFiles: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await run('python3', ['-c', 'import json, sys, zipfile; print(json.dumps([json.loads(zipfile.ZipFile(f).read("PEX-INFO")) for f in sys.argv[1:]]))', ...pexFiles]);
  if (r.code !== 0) throw new Error(`cannot read PEX-INFO of ${pexFiles.join(', ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * What of PEX-INFO must match pex's: the file names in `distributions`, and every other field but
 * those that follow from nx-pex's default of wheels kept as files (pex's --no-pre-install-wheels):
 * `deps_are_wheel_files`, the fingerprints in `distributions`, and `pex_hash`, which hashes them.
 */
function comparable(info: Record<string, unknown>): Record<string, unknown> {
  const { distributions, deps_are_wheel_files: _files, pex_hash: _hash, ...rest } = info;
  return { distributions: Object.keys(distributions as Record<string, string>).sort(), ...rest };
}

beforeAll(async () => {
  requireBuiltCli();
  if (!existsSync(PEX) || !existsSync(join(INDEX_DIR, '.fetched'))) {
    throw new Error(`${PEX} or ${INDEX_DIR} is missing: run \`python3 tools/fixtures/fetch.py\` (npm test's pretest does) first.`);
  }
  // The index holds wheels for CPython 3.11 on linux x86_64 (what CI runs), and the expected
  // versions below are those of that interpreter.
  const host = await run('python3', ['-c', 'import platform, sys; print(sys.implementation.name, "%d.%d" % sys.version_info[:2], sys.platform, platform.machine())']);
  if (host.stdout.trim() !== 'cpython 3.11 linux x86_64') {
    throw new Error(`The pex parity index (tools/fixtures/fetch.py) is for CPython 3.11 on linux x86_64; python3 here is ${host.stdout.trim() || host.stderr.trim()}.`);
  }
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-parity-'));
  await cp(HELLO, join(scratch, 'hello'), { recursive: true });
  await mkdir(join(scratch, 'wheelhouse'));
  for (const f of (await readdir(INDEX_DIR)).filter((n) => n.endsWith('.whl') && WHEELHOUSE.test(n)).sort()) {
    await cp(join(INDEX_DIR, f), join(scratch, 'wheelhouse', f));
    wheelhouse.push(join('wheelhouse', f));
  }
  server = await startIndexServer({ dir: INDEX_DIR });
  // Only the command line's index: pip's configuration and the machine's find-links are off, pip's
  // own index (for the pip each tool runs to build sdists and projects) is a port where nothing
  // listens, and a request to any other host meets a proxy that answers nothing.
  env = {
    ...process.env,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
    PIP_EXTRA_INDEX_URL: '',
    PIP_FIND_LINKS: '',
    PIP_NO_INPUT: '1',
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    http_proxy: 'http://127.0.0.1:9',
    https_proxy: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PEX_ROOT: join(scratch, 'pex-root'),
    NX_PEX_STORE: join(scratch, 'store'),
  };
  const index = ['--no-pypi', '--index-url', server.url];
  // pex runs pip in a Python process per build: two at a time on two cores; nx-pex's builds are
  // quick except where they too run pip to build a wheel.
  const jobs = CASES.flatMap((c) => [
    async () => ({ id: c.id, tool: 'pex' as const, r: await run(PEX, [...c.args(), ...index, '-o', output('pex', c.id)], { cwd: c.cwd(), env }) }),
    async () => ({ id: c.id, tool: 'nx-pex' as const, r: await run(process.execPath, [NX_PEX, 'build', ...c.args(), ...index, '-o', output('nx-pex', c.id)], { cwd: c.cwd(), env }) }),
  ]);
  for (const { id, tool, r } of await pool(jobs, 2)) {
    built[id] ??= {} as { pex: Run; nxPex: Run };
    built[id]![tool === 'pex' ? 'pex' : 'nxPex'] = r;
  }
});

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('pex and nx-pex build, the same command', () => {
  it.each(CASES.map((c) => [c.id, c] as const))('%s: the same files in PEX-INFO distributions (and the same PEX-INFO otherwise); the nx-pex PEX runs as pex\'s does', async (_id, c) => {
    const { pex, nxPex } = built[c.id]!;
    const command = c.args().join(' ');
    if (pex.code !== 0) throw new Error(`pex ${command} failed (${pex.code}):\n${pex.stderr}`);
    if (nxPex.code !== 0) throw new Error(`nx-pex build ${command} failed (${nxPex.code}):\n${nxPex.stderr}`);
    // Both PEX files run (nx-pex's must print what pex's does) while their PEX-INFO is read.
    const [infos, ran, oracle] = await Promise.all([
      pexInfos(output('pex', c.id), output('nx-pex', c.id)),
      run(output('nx-pex', c.id), c.check.args, { cwd: scratch, env }),
      run(output('pex', c.id), c.check.args, { cwd: scratch, env }),
    ]);
    const [expected, actual] = infos.map(comparable) as [Record<string, unknown>, Record<string, unknown>];
    expect((expected.distributions as string[]).length).toBeGreaterThan(0);
    expect({ command, ...actual }).toEqual({ command, ...expected });
    expect({ code: ran.code, stderr: ran.code === 0 ? '' : ran.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ran.stdout.trim()).toMatch(c.check.stdout);
    expect(ran.stdout).toBe(oracle.stdout);
  });
});
