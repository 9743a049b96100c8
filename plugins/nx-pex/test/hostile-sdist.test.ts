/**
 * A build from source that never ends (its PEP 517 backend starts a helper process and sleeps):
 * stopped with SIGTERM or SIGINT, nx-pex takes the build's whole process group with it and leaves
 * no scratch directory (its own or pip's) in TMPDIR; over NX_PEX_BUILD_TIMEOUT / --build-timeout
 * it is killed and named; after a SIGKILL of nx-pex, the next build kills the orphaned build and
 * sweeps its directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cliEnv, requireBuiltCli, runCli } from './support';

jest.setTimeout(180_000);

let scratch: string;
let project: string;

// A backend that records its pid and a helper's, then never returns.
const BACKEND = String.raw`
import os, subprocess, sys, time

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    with open(os.environ["NEVER_PIDS"] + ".tmp", "w") as f:
        f.write("%d %d\n" % (os.getpid(), helper.pid))
    os.rename(os.environ["NEVER_PIDS"] + ".tmp", os.environ["NEVER_PIDS"])
    while True:
        time.sleep(1)
`;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by its parent) is not running.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (what()) return true;
  return what();
}

/** What a build left in its TMPDIR: nx-pex's scratch directories and pip's. */
const residue = (tmp: string) => (existsSync(tmp) ? readdirSync(tmp).filter((n) => n.startsWith('nx-pex-build-') || n.startsWith('pip-')) : []);

beforeAll(async () => {
  requireBuiltCli();
  scratch = await mkdtemp(join(tmpdir(), 'nx-pex-hostile-sdist-'));
  project = join(scratch, 'neverending');
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'never_backend.py'), BACKEND);
  await writeFile(join(project, 'pyproject.toml'), '[build-system]\nrequires = []\nbuild-backend = "never_backend"\nbackend-path = ["."]\n\n[project]\nname = "neverending"\nversion = "1.0"\n');
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Starts `nx-pex build <project>` with its own TMPDIR; resolves once the backend runs, with its pids. */
async function startBuild(name: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const tmp = join(scratch, `tmp-${name}`);
  await mkdir(tmp, { recursive: true });
  const pids = join(scratch, `${name}.pids`);
  const child = spawn(process.execPath, [CLI, 'build', project, '--no-pypi', '-o', join(scratch, `${name}.pex`), '--store', join(scratch, 'store')], {
    env: cliEnv({ TMPDIR: tmp, NEVER_PIDS: pids, PIP_NO_INDEX: '1', ...extraEnv }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const started = await until(() => existsSync(pids), 60_000);
  if (!started) throw new Error(`the build never started:\n${stderr}`);
  const [backend, helper] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
  return { child, tmp, backend, helper, exited, stderr: () => stderr };
}

it.each(['SIGTERM', 'SIGINT'] as const)('%s: the build and everything it started die with nx-pex, and TMPDIR is left clean', async (signal) => {
  const b = await startBuild(signal);
  expect(alive(b.backend)).toBe(true);
  expect(alive(b.helper)).toBe(true);
  expect(residue(b.tmp).length).toBeGreaterThan(0);
  b.child.kill(signal);
  const exit = await b.exited;
  expect(exit.code !== 0 || exit.signal !== null).toBe(true);
  expect(await until(() => !alive(b.backend) && !alive(b.helper), 5_000)).toBe(true);
  expect(residue(b.tmp)).toEqual([]);
});

it('over --build-timeout the build is killed with what it started, and named', async () => {
  const tmp = join(scratch, 'tmp-timeout');
  await mkdir(tmp, { recursive: true });
  const pids = join(scratch, 'timeout.pids');
  const started = Date.now();
  const res = await runCli(['build', project, '--no-pypi', '-o', join(scratch, 'timeout.pex'), '--store', join(scratch, 'store'), '--build-timeout', '4'], {
    env: { TMPDIR: tmp, NEVER_PIDS: pids, PIP_NO_INDEX: '1' },
  });
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/took longer than 4 s and was stopped .*NX_PEX_BUILD_TIMEOUT/s);
  expect(res.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
  expect(Date.now() - started).toBeLessThan(60_000);
  const [backend, helper] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
  expect(await until(() => !alive(backend) && !alive(helper), 5_000)).toBe(true);
  expect(residue(tmp)).toEqual([]);
  // A value that is not a number of seconds is refused, by name.
  const bad = await runCli(['build', project, '--no-pypi', '-o', join(scratch, 'bad.pex'), '--store', join(scratch, 'store')], { env: { TMPDIR: tmp, NX_PEX_BUILD_TIMEOUT: 'soon' } });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/NX_PEX_BUILD_TIMEOUT is "soon"/);
});

it('after a SIGKILL of nx-pex, the next build kills the orphaned build and sweeps its directories', async () => {
  const b = await startBuild('SIGKILL');
  b.child.kill('SIGKILL');
  await b.exited;
  // Nothing could clean up: the build runs on, its directory stays.
  await sleep(300);
  expect(alive(b.backend)).toBe(true);
  const left = residue(b.tmp).filter((n) => n.startsWith('nx-pex-build-'));
  expect(left).toHaveLength(1);
  // The next build that builds from source (here one stopped by its time limit) sweeps it.
  const next = await runCli(['build', project, '--no-pypi', '-o', join(scratch, 'next.pex'), '--store', join(scratch, 'store'), '--build-timeout', '3'], {
    env: { TMPDIR: b.tmp, NEVER_PIDS: join(scratch, 'next.pids'), PIP_NO_INDEX: '1' },
  });
  expect(next.code).toBe(1);
  expect(await until(() => !alive(b.backend) && !alive(b.helper), 5_000)).toBe(true);
  expect(residue(b.tmp)).toEqual([]);
});
