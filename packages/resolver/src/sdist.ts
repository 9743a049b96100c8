/**
 * Wheels built from sdists and local project directories, with the project's own PEP 517 backend
 * in an isolated environment (`python -m pip wheel --no-deps`, as pex does), by a local interpreter.
 * A wheel built from an sdist is kept in the store and remembered under the sdist's sha256 and the
 * target's tags, so each sdist is built once per target.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, cp, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { forgetGroup, HOST_TAG, keepOnInterrupt, killGroupOnInterrupt, pidAlive, removeOnInterrupt, writeFileAtomic } from '@nx-pex/fs';
import { probeInterpreterCached } from '@nx-pex/interpreter';
import { parseWheelFilename, targetFromInterpreter, UserError, wheelRank, type TargetPlatform } from '@nx-pex/pep';
import { redactText, redactUrl, type IndexConfig } from '@nx-pex/index';
import { checkZipArchive, sha256File, type WheelStore } from '@nx-pex/store';
import type { BuiltWheel, WheelBuilder } from './source';

/** An sdist or project whose build failed, or whose wheel does not fit the target. */
export class SdistBuildError extends UserError {}

export interface SdistBuilderOptions {
  /** The interpreter that builds (the target's, or `--python`). */
  python: string;
  target: TargetPlatform;
  store: WheelStore;
  env?: NodeJS.ProcessEnv;
  /**
   * The indexes and find-links of the build (pip's configuration with the command line's
   * overrides): the isolated build environment takes its build backend from them, as pex's
   * builds do, not from pip's configuration alone.
   */
  index?: IndexConfig;
  log?: (line: string) => void;
  /**
   * Time limit of one build (default: NX_PEX_BUILD_TIMEOUT seconds from `env`, else 30 minutes).
   * A build over it is killed with everything it started.
   */
  timeoutMs?: number;
}

/** The default time limit of one sdist or project build. */
export const DEFAULT_BUILD_TIMEOUT_MS = 30 * 60_000;

/** The build time limit from `NX_PEX_BUILD_TIMEOUT` (seconds, > 0), else the default; a bad value is an error. */
export function buildTimeoutFromEnv(env: NodeJS.ProcessEnv): number {
  const text = env.NX_PEX_BUILD_TIMEOUT?.trim();
  if (!text) return DEFAULT_BUILD_TIMEOUT_MS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UserError(`NX_PEX_BUILD_TIMEOUT is "${text}", which is not a number of seconds above 0 (the time limit of one sdist build; default ${DEFAULT_BUILD_TIMEOUT_MS / 1000}).`);
  }
  return Math.round(seconds * 1000);
}

interface BuiltRecord {
  filename: string;
  sha256: string;
  size: number;
}


/** The most of a build's output kept for its error message (its end). */
const OUTPUT_TAIL_BYTES = 256 * 1024;

/**
 * Runs `python args` in a process group of its own, so that what it starts (pip, the build
 * backend, compilers) is killed with it: on timeout, and when nx-pex is interrupted (SIGINT,
 * SIGTERM) or exits. Output is kept up to its last 256 kB.
 */
function run(python: string, args: string[], env: NodeJS.ProcessEnv, timeout: number, onStart?: (pgid: number) => void): Promise<{ code: number; output: string; timedOut?: boolean }> {
  return new Promise((resolve) => {
    let output = Buffer.alloc(0);
    const keep = (chunk: Buffer) => {
      output = Buffer.concat([output, chunk]);
      if (output.length > OUTPUT_TAIL_BYTES) output = output.subarray(output.length - OUTPUT_TAIL_BYTES);
    };
    const child = spawn(python, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pgid = child.pid;
    if (pgid !== undefined) {
      killGroupOnInterrupt(pgid);
      onStart?.(pgid);
    }
    let timedOut = false;
    const killGroup = () => {
      if (pgid === undefined) return;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeout);
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (pgid !== undefined) forgetGroup(pgid);
      resolve({ code: -1, output: e.code === 'ENOENT' ? `the interpreter ${python} was not found` : e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the build left running in its group (a daemon, a stuck compiler) goes with it.
      killGroup();
      if (pgid !== undefined) forgetGroup(pgid);
      const text = output.toString('utf8');
      if (timedOut) return resolve({ code: 1, output: text, timedOut: true });
      resolve({ code: code ?? 1, output: text || (signal ? `killed by ${signal}` : '') });
    });
  });
}

/** The file in a scratch directory that names the process group of its build. */
const PGID_FILE = 'build.pgid';

/**
 * Kills the build still running in a dead process's scratch directory `dir` (nx-pex was killed
 * with SIGKILL, so its children were not): the group named in `build.pgid`, only if its leader's
 * command line names `dir` (so a reused process id is never taken for it). Linux only (/proc).
 */
async function killOrphanedBuild(dir: string): Promise<void> {
  const pgid = Number((await readFile(join(dir, PGID_FILE), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  const cmdline = await readFile(`/proc/${pgid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.split('\0').some((arg) => arg.startsWith(`${dir}/`))) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}

/** `nx-pex-build-<host tag>-<pid>-<random>`: a build's scratch directory, by the process that made it. */
const SCRATCH_PREFIX = 'nx-pex-build-';
const SCRATCH_NAME = /^nx-pex-build-([0-9a-f]{8})-(\d+)-/;
const DAY_MS = 24 * 60 * 60 * 1000;
let swept = false;

/**
 * Removes the scratch directories of builds whose process is gone (killed with SIGKILL, which
 * leaves no chance to clean up), once per process: this host's by their dead pid, another
 * host's (a shared TMPDIR) and earlier versions' (no pid in the name) after a day.
 */
export async function sweepStaleBuildDirs(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const p = join(dir, name);
    const m = SCRATCH_NAME.exec(name);
    let stale: boolean;
    if (m && m[1] === HOST_TAG) stale = Number(m[2]) !== process.pid && !pidAlive(Number(m[2]));
    else stale = Date.now() - ((await lstat(p).catch(() => undefined))?.mtimeMs ?? Date.now()) > DAY_MS;
    if (!stale) continue;
    await killOrphanedBuild(p);
    await rm(p, { recursive: true, force: true }).then(() => removed.push(p), () => undefined);
  }
  return removed;
}

const SKIPPED_ANYWHERE = new Set(['.git', '.hg', '.svn', 'node_modules', '__pycache__', '.venv', '.nx', '.tox', '.nox', '.mypy_cache', '.pytest_cache', '.ruff_cache']);

/** What of a project directory is copied for its build: not VCS data, caches, or earlier build output. */
export function keepInCopy(root: string, src: string): boolean {
  const rel = relative(root, src);
  if (rel === '') return true;
  const name = basename(src);
  if (SKIPPED_ANYWHERE.has(name)) return false;
  // setuptools' output of an earlier in-place build, at the project's top.
  if (!rel.includes(sep) && (name === 'build' || name === 'dist' || name.endsWith('.egg-info'))) return false;
  return true;
}

/**
 * `env` with pip's index options set to `index`'s (pip reads `PIP_<OPTION>` before its
 * configuration files), so that `pip wheel` installs build requirements from the same places
 * the resolution used.
 */
export function pipIndexEnv(env: NodeJS.ProcessEnv, index: IndexConfig | undefined): NodeJS.ProcessEnv {
  if (!index) return env;
  const out: NodeJS.ProcessEnv = {
    ...env,
    PIP_INDEX_URL: index.indexUrl,
    PIP_EXTRA_INDEX_URL: index.extraIndexUrls.join(' '),
    PIP_FIND_LINKS: index.findLinks.join(' '),
    PIP_TRUSTED_HOST: index.trustedHosts.join(' '),
  };
  // pip reads an empty PIP_NO_INDEX as an invalid boolean: leave it out unless it is on.
  delete out.PIP_NO_INDEX;
  if (index.noIndex) out.PIP_NO_INDEX = '1';
  if (index.certFile) out.PIP_CERT = index.certFile;
  return out;
}

/** A path relative to the working directory when inside it (log lines read the same in every clone). */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel.split(sep).join('/');
}

/**
 * Runs `python -m pip wheel --no-deps` on `source` into `out` (killed with everything it started
 * after `timeout` ms) and returns the one wheel's file name, checked to fit the target.
 */
async function pipWheel(
  opts: SdistBuilderOptions,
  x: { source: string; out: string; what: string; scratch: string; env: NodeJS.ProcessEnv; timeout: number },
): Promise<string> {
  const { source, out, what, scratch, env, timeout } = x;
  opts.log?.(`Building a wheel from ${what} with ${opts.python}`);
  const args = ['-m', 'pip', 'wheel', '--no-deps', '--no-cache-dir', '-q', '-w', out, source];
  const { code, output, timedOut } = await run(opts.python, args, env, timeout, (pgid) => {
    void writeFile(join(scratch, PGID_FILE), `${pgid}\n`).catch(() => undefined);
  });
  if (timedOut) {
    throw new SdistBuildError(
      `Building a wheel from ${what} with ${opts.python} took longer than ${Math.round(timeout / 1000)} s and was stopped (with everything it started). ` +
        'If it needs longer, raise the limit: NX_PEX_BUILD_TIMEOUT=<seconds> (or nx-pex --build-timeout <seconds>); else pick a version that has a wheel for this target.',
    );
  }
  if (code !== 0) {
    const tail = redactText(output.trim()).split('\n').slice(-15).join('\n    ');
    throw new SdistBuildError(
      `Building a wheel from ${what} with ${opts.python} (\`python -m pip wheel --no-deps\`, its PEP 517 backend in an isolated environment) failed:\n    ${tail}\n` +
        'Install what the build needs (a compiler, headers), pick a version that has a wheel for this target, or give --python an interpreter that can build it.',
    );
  }
  const wheels = (await readdir(out)).filter((f) => f.endsWith('.whl'));
  if (wheels.length !== 1) throw new SdistBuildError(`Building ${what} with ${opts.python} gave ${wheels.length} wheels (${wheels.join(', ') || 'none'}), expected one.`);
  const wheelName = wheels[0]!;
  const w = parseWheelFilename(wheelName);
  if (wheelRank(w, opts.target) === undefined) {
    throw new SdistBuildError(
      `The wheel built from ${what}, ${wheelName}, has tags (${w.tags.join(', ')}) that do not fit target ${opts.target.id}: ` +
        `it was built by ${opts.python} for its own platform. A project that is not pure Python must be built by an interpreter of the target's ` +
        'platform and version: use a matching --python, or a version of it that has a wheel for the target.',
    );
  }
  return wheelName;
}

/** A WheelBuilder for the resolver: builds with `python -m pip wheel --no-deps`, caches sdist builds in the store. */
export function sdistBuilder(opts: SdistBuilderOptions): WheelBuilder {
  const env = { ...pipIndexEnv(opts.env ?? process.env, opts.index), PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  const builtDir = join(opts.store.root, 'built');
  const tagsKey = createHash('sha256').update(opts.target.supportedTags.join('\n')).digest('hex').slice(0, 16);

  const timeout = opts.timeoutMs ?? buildTimeoutFromEnv(opts.env ?? process.env);
  let foreign: Promise<string | undefined> | undefined;
  const builder: WheelBuilder = async (input) => {
    const filename = input.filename ?? input.path.split('/').pop()!;
    const what = input.kind === 'directory' ? `the project in ${shown(input.path)}` : `${filename} (${redactUrl(input.url)})`;
    let recordPath: string | undefined;
    if (input.kind === 'sdist') {
      const sha = input.sha256 ?? (await sha256File(input.path)).sha256;
      recordPath = join(builtDir, `${sha}-${tagsKey}.json`);
      const known = await readFile(recordPath, 'utf8').then((t) => JSON.parse(t) as BuiltRecord, () => undefined);
      const path = known ? await opts.store.get(known.sha256) : undefined;
      if (known && path) return { path, filename: known.filename, sha256: known.sha256, size: known.size };
    }
    if (!swept) {
      swept = true;
      await sweepStaleBuildDirs();
    }
    const scratch = await mkdtemp(join(tmpdir(), `${SCRATCH_PREFIX}${HOST_TAG}-${process.pid}-`));
    // Removed on SIGINT/SIGTERM; after a SIGKILL, swept by the next build (its pid is dead).
    removeOnInterrupt(scratch);
    const out = join(scratch, 'wheel');
    // pip's own temporary directories (pip-build-env-*, pip-req-build-*) go into the scratch
    // directory too, so that nothing of a build outlives it.
    const childTmp = join(scratch, 'tmp');
    await mkdir(childTmp);
    const buildEnv = { ...env, TMPDIR: childTmp, TEMP: childTmp, TMP: childTmp };
    try {
      let source = input.path;
      if (input.kind === 'directory') {
        // pip builds a directory in place (setuptools leaves build/ and *.egg-info there): build a copy.
        source = join(scratch, 'project');
        await cp(input.path, source, { recursive: true, filter: (src) => keepInCopy(input.path, src) });
      } else if (input.kind === 'sdist') {
        // pip knows an sdist by its file name; the store keeps files under their hash.
        source = join(scratch, filename.replace(/[\/]/g, '_'));
        await symlink(input.path, source);
      }
      const wheelName = await pipWheel(opts, { source, out, what, scratch, env: buildEnv, timeout });
      const built = join(out, wheelName);
      await checkZipArchive(built, wheelName, what);
      const digest = await sha256File(built);
      const path = await opts.store.ensure(
        digest.sha256,
        async (tmp) => {
          await rename(built, tmp).catch((e: NodeJS.ErrnoException) => (e.code === 'EXDEV' ? copyFile(built, tmp) : Promise.reject(e)));
          return digest;
        },
        { label: wheelName },
      );
      if (recordPath) {
        await mkdir(builtDir, { recursive: true });
        await writeFileAtomic(recordPath, JSON.stringify({ filename: wheelName, sha256: digest.sha256, size: digest.size } satisfies BuiltRecord));
      }
      const result: BuiltWheel = { path, filename: wheelName, sha256: digest.sha256, size: (await stat(path)).size };
      return result;
    } finally {
      await rm(scratch, { recursive: true, force: true });
      keepOnInterrupt(scratch);
    }
  };
  builder.foreignReason = () => {
    if (!opts.target.platform) return Promise.resolve(undefined);
    foreign ??= probeInterpreterCached(opts.python, { cacheDir: join(opts.store.root, 'interpreters'), env: opts.env })
      .then((info) => foreignBuildReason(opts.target, targetFromInterpreter(info), opts.python))
      // An interpreter that cannot be probed is reported by the build itself.
      .catch(() => undefined);
    return foreign;
  };
  return builder;
}

/**
 * Why wheels `python` builds cannot fit `target`, or undefined when they can. A target given as
 * the interpreter itself always fits; a `--platform` or `--complete-platform` target fits when it
 * takes the tag the interpreter gives what it builds (`cp311-cp311-linux_x86_64`): the same
 * Python version and ABI on the same platform.
 */
export function foreignBuildReason(target: TargetPlatform, local: TargetPlatform, python: string): string | undefined {
  if (!target.platform) return undefined;
  const own = local.supportedTags[0];
  if (own === undefined || target.supportedTags.includes(own)) return undefined;
  return `${python} (Python ${local.pythonVersion}) builds wheels tagged ${own}, which ${target.id} does not take`;
}
