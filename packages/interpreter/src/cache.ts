/**
 * The interpreter probe, remembered on disk between processes.
 *
 * An answer is reused only while the interpreter is provably the same: the cache file is named by
 * a hash of the interpreter's path, its real path and that file's identity (device, inode, size,
 * mtime and ctime in nanoseconds), the kernel (release, version, machine: the probe reports
 * uname's values as markers), the environment variables that change what the probe sees, and the
 * probe script itself. The entry also lists every other file the answer was read from (libpython,
 * libc and the dynamic loader as mapped into the probing process, the stdlib modules it imported,
 * the loader cache) with their identities; any change there probes again.
 *
 * Scripts (files starting with `#!`, e.g. pyenv shims or wrappers) are never cached: which
 * interpreter they start depends on files and variables outside them.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fs, statSync, type BigIntStats } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tryWriteFileAtomic } from '@nx-pex/fs';
import type { InterpreterInfo } from '@nx-pex/pep';
import { interpreterInfoFromProbe, PROBE_SCRIPT, runProbe } from './probe';

export interface InterpreterCacheOptions {
  /** Directory of the cached answers (created when needed; unwritable means "don't cache"). */
  cacheDir: string;
  /** Environment the interpreter runs with and whose PATH finds it. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory a relative interpreter path is taken from. Default: process.cwd(). */
  cwd?: string;
}

/** Runs the probe with `command` and returns what it printed (see runProbe). */
export type ProbeRunner = (command: string, env: NodeJS.ProcessEnv, python: string) => Promise<string>;

/** Bumped when the layout of a cache entry changes. */
const ENTRY_FORMAT = 1;

/** Variables the probe's answer depends on (everything else is ignored: `-I` shuts out PYTHON*). */
const KEY_VARIABLES = [
  // which libpython / libc the loader maps
  'LD_LIBRARY_PATH',
  'LD_PRELOAD',
  'DYLD_LIBRARY_PATH',
  'DYLD_FALLBACK_LIBRARY_PATH',
  'DYLD_FRAMEWORK_PATH',
  'DYLD_INSERT_LIBRARIES',
  // what sysconfig.get_platform() answers
  '_PYTHON_HOST_PLATFORM',
  '_PYTHON_PROJECT_BASE',
  '_PYTHON_SYSCONFIGDATA_NAME',
  // macOS: _osx_support adjusts the platform from these
  'MACOSX_DEPLOYMENT_TARGET',
  'ARCHFLAGS',
  'CC',
  'CFLAGS',
  'LDFLAGS',
  'CPPFLAGS',
  'BASECFLAGS',
  'BLDSHARED',
  'LDSHARED',
  'PY_CFLAGS',
  'PY_LDFLAGS',
  'PY_CPPFLAGS',
  'PY_CORE_CFLAGS',
  'PY_CORE_LDFLAGS',
];

const PROBE_DIGEST = createHash('sha256').update(PROBE_SCRIPT).digest('hex');

interface FileIdentity {
  path: string;
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface CacheEntry {
  format: number;
  key: string;
  output: string;
  inputs: FileIdentity[];
}

function identity(file: string, st: BigIntStats): FileIdentity {
  return { path: file, dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.path === b.path && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

async function statIdentity(file: string): Promise<FileIdentity | undefined> {
  try {
    return identity(file, await fs.stat(file, { bigint: true }));
  } catch {
    return undefined;
  }
}

function statIdentitySync(file: string): FileIdentity | undefined {
  try {
    const st = statSync(file, { bigint: true, throwIfNoEntry: false });
    return st ? identity(file, st) : undefined;
  } catch {
    return undefined;
  }
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file `execFile(python)` would run: a name with a '/' is a path (taken from `cwd`), any other
 * name is looked up in the directories of `env.PATH` in order (an empty entry is the current
 * directory; no PATH means /usr/bin:/bin). Undefined when nothing executable is found.
 */
export async function resolveExecutable(python: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<string | undefined> {
  if (python.includes('/')) {
    const file = path.resolve(cwd, python);
    return (await isExecutableFile(file)) ? file : undefined;
  }
  if (!python) return undefined;
  const dirs = (env.PATH ?? '/usr/bin:/bin').split(':');
  for (const dir of dirs) {
    const file = path.resolve(cwd, dir || '.', python);
    if (await isExecutableFile(file)) return file;
  }
  return undefined;
}

async function startsWithShebang(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x23 && buf[1] === 0x21;
  } finally {
    await handle.close();
  }
}

function cacheKey(resolved: string, real: FileIdentity, env: NodeJS.ProcessEnv): string {
  const variables: Record<string, string> = {};
  for (const name of KEY_VARIABLES) {
    const value = env[name];
    if (value !== undefined) variables[name] = value;
  }
  return JSON.stringify({
    probe: PROBE_DIGEST,
    interpreter: resolved,
    real,
    kernel: {
      platform: process.platform,
      type: os.type(),
      release: os.release(),
      version: os.version(),
      machine: typeof os.machine === 'function' ? os.machine() : undefined,
      arch: os.arch(),
    },
    variables,
  });
}

async function readEntry(file: string, key: string): Promise<string | undefined> {
  let entry: CacheEntry;
  try {
    entry = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
  if (!entry || entry.format !== ENTRY_FORMAT || entry.key !== key || typeof entry.output !== 'string' || !Array.isArray(entry.inputs)) {
    return undefined;
  }
  // Some forty stat calls: synchronous ones take well under a millisecond in all, where as many
  // queued on libuv's four threads take several (tens on a loaded machine) for every command.
  const now = entry.inputs.map((i) => (i && typeof i.path === 'string' ? statIdentitySync(i.path) : undefined));
  for (let i = 0; i < now.length; i++) {
    const current = now[i];
    if (!current || !sameIdentity(current, entry.inputs[i])) return undefined;
  }
  return entry.output;
}

/** The files the probe reported reading, with their identities now; undefined if any is gone. */
async function inputIdentities(output: string): Promise<FileIdentity[] | undefined> {
  let files: unknown;
  try {
    files = (JSON.parse(output) as { inputs?: unknown }).inputs;
  } catch {
    return undefined;
  }
  if (!Array.isArray(files) || !files.every((f): f is string => typeof f === 'string')) return undefined;
  // A mapped file replaced while the process ran shows as "<path> (deleted)": that answer is not
  // tied to anything on disk any more.
  if (files.some((f) => f.endsWith(' (deleted)'))) return undefined;
  const ids = await Promise.all(files.map(statIdentity));
  return ids.every((i): i is FileIdentity => i !== undefined) ? ids : undefined;
}

async function writeEntry(file: string, entry: CacheEntry): Promise<void> {
  // Not being able to remember the answer never fails a build.
  await tryWriteFileAtomic(file, JSON.stringify(entry), { mkdir: true });
}

/** probeInterpreterCached with the child process supplied by the caller. */
export async function probeWithCache(python: string, opts: InterpreterCacheOptions, run: ProbeRunner): Promise<InterpreterInfo> {
  const env = opts.env ?? process.env;
  if (process.platform === 'win32') return interpreterInfoFromProbe(await run(python, env, python), python);
  const resolved = await resolveExecutable(python, env, opts.cwd);
  // Not found or not executable: run it anyway so the error says exactly what execvp said.
  if (!resolved) return interpreterInfoFromProbe(await run(python, env, python), python);

  let real: string;
  let before: FileIdentity | undefined;
  let script: boolean;
  try {
    real = await fs.realpath(resolved);
    before = await statIdentity(real);
    script = await startsWithShebang(real);
  } catch {
    return interpreterInfoFromProbe(await run(resolved, env, python), python);
  }
  if (script || !before) return interpreterInfoFromProbe(await run(resolved, env, python), python);

  const key = cacheKey(resolved, before, env);
  const file = path.join(opts.cacheDir, `${createHash('sha256').update(key).digest('hex')}.json`);
  const cached = await readEntry(file, key);
  if (cached !== undefined) {
    try {
      return interpreterInfoFromProbe(cached, python);
    } catch {
      // a damaged entry: probe again below and replace it
    }
  }

  const output = await run(resolved, env, python);
  const info = interpreterInfoFromProbe(output, python);
  const after = await statIdentity(real);
  const inputs = await inputIdentities(output);
  // Only an answer from an interpreter that did not change while it ran is remembered.
  if (after && sameIdentity(before, after) && inputs) {
    await writeEntry(file, { format: ENTRY_FORMAT, key, output, inputs });
  }
  return info;
}

/**
 * Like probeInterpreter, but reuses an earlier answer for the same interpreter file from
 * `cacheDir` (one small JSON file per interpreter identity). See the module comment for what
 * makes an answer stale; a missing, unreadable or damaged entry is probed again and rewritten, and
 * an unwritable `cacheDir` only means the answer is not remembered.
 */
export function probeInterpreterCached(python: string, opts: InterpreterCacheOptions): Promise<InterpreterInfo> {
  return probeWithCache(python, opts, runProbe);
}
