import { execFileSync } from 'node:child_process';
import { promises as fs, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterpreterProbeError, probeInterpreter, probeInterpreterCached, resolveExecutable } from '@nx-pex/interpreter';
import { probeWithCache, type ProbeRunner } from '../src/cache';
import { runProbe } from '../src/probe';
import { itWith } from '@nx-pex/testkit';

function realPython(): string | undefined {
  try {
    return realpathSync(execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

const python = realPython();

let scratch: string;
beforeEach(async () => {
  scratch = await fs.mkdtemp(join(tmpdir(), 'pep-interp-cache-'));
});
afterEach(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

/** A probe answer as a real interpreter would print it, with `inputs` naming the given files. */
function probeOutput(inputs: string[], release = '6.1.0'): string {
  return JSON.stringify({
    implementation: 'cpython',
    version: [3, 11, 7],
    abiflags: '',
    platform: 'linux-x86_64',
    machine: 'x86_64',
    libc: { name: 'glibc', version: '2.36' },
    mac: '',
    is32bit: false,
    executable: '/opt/py/bin/python3',
    markers: {
      implementation_name: 'cpython',
      implementation_version: '3.11.7',
      os_name: 'posix',
      platform_machine: 'x86_64',
      platform_release: release,
      platform_system: 'Linux',
      platform_version: '#1 SMP',
      python_full_version: '3.11.7',
      platform_python_implementation: 'CPython',
      python_version: '3.11',
      sys_platform: 'linux',
    },
    inputs,
  });
}

/** A runner that answers `output()` and records the commands it was asked to run. */
function countingRunner(output: () => string): ProbeRunner & { calls: string[] } {
  const calls: string[] = [];
  const run = async (command: string) => {
    calls.push(command);
    return output();
  };
  return Object.assign(run, { calls });
}

/** An executable that is not a script (an ELF-looking header), as a compiled interpreter is. */
async function fakeBinary(file: string, body = 'interpreter'): Promise<string> {
  await fs.writeFile(file, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from(body)]));
  await fs.chmod(file, 0o755);
  return file;
}

async function cacheFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
}

describe('probeWithCache', () => {
  it('runs the interpreter once; the second call answers from the cache file', async () => {
    const lib = join(scratch, 'libfake.so');
    await fs.writeFile(lib, 'lib');
    const exe = await fakeBinary(join(scratch, 'python3'));
    const run = countingRunner(() => probeOutput([lib]));
    const cacheDir = join(scratch, 'cache', 'interpreters');

    const first = await probeWithCache(exe, { cacheDir }, run);
    const second = await probeWithCache(exe, { cacheDir }, run);
    expect(run.calls).toEqual([exe]);
    expect(second).toEqual(first);
    expect(second.libc).toEqual({ name: 'glibc', version: [2, 36] });
    expect(await cacheFiles(cacheDir)).toHaveLength(1);
    expect((await cacheFiles(cacheDir))[0]).toMatch(/^[0-9a-f]{64}\.json$/);
  });

  it('probes again when the interpreter file changes (mtime, size) or is replaced', async () => {
    const exe = await fakeBinary(join(scratch, 'python3'));
    const run = countingRunner(() => probeOutput([]));
    const opts = { cacheDir: join(scratch, 'cache') };

    await probeWithCache(exe, opts, run);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(1);

    const past = new Date(Date.now() - 3600_000);
    await fs.utimes(exe, past, past);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(2);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(2);

    // same mtime, other size
    await fs.appendFile(exe, 'more');
    await fs.utimes(exe, past, past);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(3);

    // replaced by another file with the same size and times (another inode)
    const other = await fakeBinary(join(scratch, 'python3.new'), 'interpretermore');
    await fs.utimes(other, past, past);
    await fs.rename(other, exe);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(4);
  });

  it('probes again when a file the answer was read from (libc, libpython) changes or disappears', async () => {
    const libc = join(scratch, 'libc.so.6');
    await fs.writeFile(libc, 'glibc 2.36');
    const exe = await fakeBinary(join(scratch, 'python3'));
    const run = countingRunner(() => probeOutput([libc]));
    const opts = { cacheDir: join(scratch, 'cache') };

    await probeWithCache(exe, opts, run);
    await fs.writeFile(libc, 'glibc 2.39');
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(2);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(2);

    await fs.rm(libc);
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(3);
    // an answer naming a file that no longer exists is not remembered
    await probeWithCache(exe, opts, run);
    expect(run.calls).toHaveLength(4);
  });

  it('does not remember an answer from a process that mapped a file deleted meanwhile', async () => {
    const exe = await fakeBinary(join(scratch, 'python3'));
    const lib = join(scratch, 'libpython3.11.so');
    await fs.writeFile(lib, 'x');
    const run = countingRunner(() => probeOutput([`${lib} (deleted)`]));
    const cacheDir = join(scratch, 'cache');
    await probeWithCache(exe, { cacheDir }, run);
    await probeWithCache(exe, { cacheDir }, run);
    expect(run.calls).toHaveLength(2);
    expect(await cacheFiles(cacheDir)).toEqual([]);
  });

  it('keys on the path the interpreter is called by, and on variables that change what it loads', async () => {
    const exe = await fakeBinary(join(scratch, 'python3.11'));
    const link = join(scratch, 'python3');
    await fs.symlink('python3.11', link);
    const run = countingRunner(() => probeOutput([]));
    const cacheDir = join(scratch, 'cache');

    await probeWithCache(exe, { cacheDir }, run);
    await probeWithCache(link, { cacheDir }, run);
    await probeWithCache(link, { cacheDir }, run);
    expect(run.calls).toEqual([exe, link]);

    await probeWithCache(link, { cacheDir, env: { ...process.env, LD_LIBRARY_PATH: '/opt/other/lib' } }, run);
    await probeWithCache(link, { cacheDir, env: { ...process.env, _PYTHON_HOST_PLATFORM: 'linux-aarch64' } }, run);
    expect(run.calls).toHaveLength(4);
    // unrelated variables do not matter
    await probeWithCache(link, { cacheDir, env: { ...process.env, SOME_OTHER_VARIABLE: '1' } }, run);
    expect(run.calls).toHaveLength(4);
    expect(await cacheFiles(cacheDir)).toHaveLength(4);
  });

  it('never caches a script (#!): a pyenv shim picks its interpreter from files outside it', async () => {
    const shim = join(scratch, 'python3');
    await fs.writeFile(shim, '#!/usr/bin/env bash\nexec pyenv exec python3 "$@"\n');
    await fs.chmod(shim, 0o755);
    const run = countingRunner(() => probeOutput([]));
    const cacheDir = join(scratch, 'cache');
    await probeWithCache(shim, { cacheDir }, run);
    await probeWithCache(shim, { cacheDir }, run);
    await probeWithCache(shim, { cacheDir }, run);
    expect(run.calls).toEqual([shim, shim, shim]);
    expect(await cacheFiles(cacheDir)).toEqual([]);
  });

  it('probes again and rewrites a corrupt or truncated cache file', async () => {
    const exe = await fakeBinary(join(scratch, 'python3'));
    const run = countingRunner(() => probeOutput([]));
    const cacheDir = join(scratch, 'cache');
    const first = await probeWithCache(exe, { cacheDir }, run);
    const [name] = await cacheFiles(cacheDir);
    const file = join(cacheDir, name);
    const good = await fs.readFile(file, 'utf8');

    for (const damage of ['{"format":1,', 'not json at all', JSON.stringify({ ...JSON.parse(good), output: '{"implementation": ' })]) {
      await fs.writeFile(file, damage);
      const calls = run.calls.length;
      expect(await probeWithCache(exe, { cacheDir }, run)).toEqual(first);
      expect(run.calls).toHaveLength(calls + 1);
      expect(await fs.readFile(file, 'utf8')).toBe(good);
      await probeWithCache(exe, { cacheDir }, run);
      expect(run.calls).toHaveLength(calls + 1);
    }
    // only the entry itself is left: no temporary files
    expect(await fs.readdir(cacheDir)).toEqual([name]);
  });

  it('still answers when the cache directory cannot be created or written', async () => {
    const exe = await fakeBinary(join(scratch, 'python3'));
    const run = countingRunner(() => probeOutput([]));
    const blocker = join(scratch, 'not-a-dir');
    await fs.writeFile(blocker, '');
    const cacheDir = join(blocker, 'interpreters');
    const info = await probeWithCache(exe, { cacheDir }, run);
    expect(info.version).toEqual([3, 11, 7]);
    await probeWithCache(exe, { cacheDir }, run);
    expect(run.calls).toHaveLength(2);
  });

  it('finds a bare name on the PATH of the given environment, as execvp does', async () => {
    const empty = join(scratch, 'empty');
    const bin = join(scratch, 'bin');
    await fs.mkdir(empty);
    await fs.mkdir(bin);
    await fs.writeFile(join(empty, 'mypython'), 'not executable');
    const exe = await fakeBinary(join(bin, 'mypython'));
    const env = { PATH: `${empty}:${bin}` };
    expect(await resolveExecutable('mypython', env)).toBe(exe);
    expect(await resolveExecutable('mypython', { PATH: empty })).toBeUndefined();
    expect(await resolveExecutable('./bin/mypython', env, scratch)).toBe(exe);

    const run = countingRunner(() => probeOutput([]));
    await probeWithCache('mypython', { cacheDir: join(scratch, 'cache'), env }, run);
    await probeWithCache('mypython', { cacheDir: join(scratch, 'cache'), env }, run);
    expect(run.calls).toEqual([exe]);
  });

  it('reports an interpreter that is not on PATH with the usual error', async () => {
    const err = await probeInterpreterCached('python3.99-nowhere', { cacheDir: join(scratch, 'cache'), env: { PATH: scratch } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterpreterProbeError);
    expect((err as Error).message).toMatch(/'python3\.99-nowhere' was not found/);
    const err2 = await probeInterpreterCached(join(scratch, 'nope', 'python3'), { cacheDir: join(scratch, 'cache') }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(InterpreterProbeError);
    expect(await cacheFiles(join(scratch, 'cache'))).toEqual([]);
  });
});

describe('probeInterpreterCached with the real interpreter', () => {
  itWith(['python3'], 'answers as probeInterpreter does, from the cache the second time', async () => {
    const link = join(scratch, 'python3');
    await fs.symlink(python!, link);
    const counted = countingRunnerAround(runProbe);
    const cacheDir = join(scratch, 'interpreters');

    const fresh = await probeInterpreter(link);
    const first = await probeWithCache(link, { cacheDir }, counted);
    const second = await probeWithCache(link, { cacheDir }, counted);
    expect(counted.calls).toEqual([link]);
    expect(first).toEqual(fresh);
    expect(second).toEqual(fresh);
    expect(second.executable).toBe(link);

    // the entry names the interpreter's real file and the libraries it loaded
    const [name] = await cacheFiles(cacheDir);
    const entry = JSON.parse(await fs.readFile(join(cacheDir, name), 'utf8')) as { inputs: { path: string }[] };
    const paths = entry.inputs.map((i) => i.path);
    expect(paths).toContain(python);
    if (process.platform === 'linux') expect(paths.some((p) => /\/libc[.-]/.test(p) || /ld-musl/.test(p))).toBe(true);

    expect(await probeInterpreterCached(link, { cacheDir })).toEqual(fresh);
  });
});

function countingRunnerAround(run: ProbeRunner): ProbeRunner & { calls: string[] } {
  const calls: string[] = [];
  return Object.assign(
    async (command: string, env: NodeJS.ProcessEnv, name: string) => {
      calls.push(command);
      return run(command, env, name);
    },
    { calls },
  );
}
