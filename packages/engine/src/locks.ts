/**
 * Which reader a lock file takes: by its name (`uv.lock`, `poetry.lock`, `pylock.toml` /
 * `pylock.<name>.toml`, `*.txt`), else by what it holds (pex's JSON lock, whatever its name).
 * A JSON or TOML file that is none of these is named as an unknown lock format.
 */
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canonicalizeName, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import {
  LockError,
  looksLikePexLock,
  pexLockClosure,
  pylockAsLockfile,
  pylockClosure,
  readPexLock,
  readPoetryLock,
  readPylock,
  readUvLock,
  requirementsClosure,
  type Closure,
  type LockedArtifact,
  type Lockfile,
  type Pylock,
} from '@nx-pex/lock';

export type LockKind = 'uv' | 'poetry' | 'pylock' | 'requirements' | 'pex';

async function head(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new LockError(`Cannot read the lock file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, path);
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The format of a lock file. */
export async function lockKind(path: string): Promise<LockKind> {
  const name = basename(path).toLowerCase();
  if (name === 'uv.lock') return 'uv';
  if (name === 'poetry.lock') return 'poetry';
  if (/^pylock(\.[^.\/]+)?\.toml$/.test(name)) return 'pylock';
  if (/\.(txt|in)$/.test(name)) return 'requirements';
  const text = await head(path);
  if (looksLikePexLock(text)) return 'pex';
  if (/^\s*\[\[\s*packages\s*\]\]/m.test(text) && /^\s*lock-version\s*=/m.test(text)) return 'pylock';
  if (/^\s*\[metadata\]/m.test(text) && /^\s*lock-version\s*=/m.test(text)) return 'poetry';
  if (/^\s*version\s*=\s*\d+\s*$/m.test(text) && /^\s*\[\[\s*package\s*\]\]/m.test(text)) return 'uv';
  if (/^\s*\[\[\s*package\s*\]\]/m.test(text) && /^\s*files\s*=/m.test(text)) return 'poetry';
  // No requirements file starts a line with `{` or a `[table]` header.
  const json = /^\s*[{\[]\s*("|\{|\]|\}|$)/.test(text);
  const toml = /^\s*\[{1,2}\s*[A-Za-z0-9_."-]+\s*\]{1,2}\s*(#.*)?$/m.test(text);
  if (json || toml) {
    throw new LockError(
      `${path}: unknown lock format: it is ${json ? 'JSON' : 'TOML'} but not ${json ? "a pex lock (no \"locked_resolves\" and \"pex_version\")" : 'a uv.lock, pylock.toml or poetry.lock'}. ` +
        'nx-pex reads uv.lock, pylock.toml (PEP 751), poetry.lock, pex\'s JSON lock (pex3 lock create) and pip requirements files.',
      path,
    );
  }
  return 'requirements';
}

/** A file a lock gives by path (relative to the lock) is fetched from a file: URL. */
export function withFileUrl(artifact: LockedArtifact, lockFile: string): LockedArtifact {
  if (artifact.url !== undefined || artifact.path === undefined) return artifact;
  return { ...artifact, url: pathToFileURL(resolve(dirname(lockFile), artifact.path)).href };
}

/** A PEP 751 lock as a Lockfile whose local files have file: URLs. */
export function pylockLockfile(pylock: Pylock, path: string): Lockfile {
  const lock = pylockAsLockfile(pylock);
  return { ...lock, packages: lock.packages.map((p) => ({ ...p, wheels: p.wheels.map((w) => withFileUrl(w, path)) })) };
}

/** Reads a uv.lock, poetry.lock or pylock.toml as a Lockfile; a requirements file is read by its own reader. */
export async function readPackageLock(path: string, kind: LockKind): Promise<Lockfile> {
  if (kind === 'uv') return readUvLock(path);
  if (kind === 'poetry') return readPoetryLock(path);
  if (kind === 'pylock') return pylockLockfile(await readPylock(path), path);
  if (kind === 'pex') {
    throw new UserError(`${path} is a pex lock, which nx-pex takes as the lock of requirements (\`nx-pex build --lock ${basename(path)} REQ...\`); a project build reads uv.lock, pylock.toml or poetry.lock.`);
  }
  throw new UserError(`${path} is a requirements file, not a package lock.`);
}

/** How a requirements build (`--lock FILE REQ...`) takes its packages from a lock. */
export interface RequirementsLockSource {
  /** The packages the build needs on one target. */
  closure(target: TargetPlatform): Closure;
  /**
   * PEX-INFO's requirements when the lock decides them: a pex lock built without requirements
   * takes the lock's own (as pex does); a whole pylock, each package it installs, pinned.
   */
  roots(closure: Closure): string[];
}

/** The lock of a requirements build, read once, as a closure per target. */
export async function requirementsLockSource(lockFile: string, kind: LockKind, requirements: readonly Requirement[], opts: { noTransitive?: boolean } = {}): Promise<RequirementsLockSource> {
  if (kind === 'pex') {
    const lock = await readPexLock(lockFile);
    return {
      closure: (t) => pexLockClosure(lock, requirements, t, opts.noTransitive ? { transitive: false } : {}),
      roots: (closure) => (requirements.length ? [] : [...(closure.root.requiresDist ?? [])]),
    };
  }
  // pex's --pylock without requirements installs the whole lock: every package whose marker holds.
  const pylock = kind === 'pylock' ? await readPylock(lockFile) : undefined;
  const lock = pylock ? pylockLockfile(pylock, lockFile) : await readPackageLock(lockFile, kind);
  const wholeLock = pylock !== undefined && requirements.length === 0;
  return {
    closure: (t) => (wholeLock ? pylockClosure(pylock, t) : requirementsClosure(lock, requirements, t)),
    roots: (closure) => (wholeLock ? wholeLockRoots(closure) : []),
  };
}

/**
 * The roots of a whole pylock, as pex takes them: the installed packages no other installed
 * package depends on (by the lock's `dependencies`), third-party ones pinned. A first-party
 * project stands for its declared dependencies, which the build adds.
 */
function wholeLockRoots(closure: Closure): string[] {
  const depended = new Set(closure.packages.flatMap((e) => e.pkg.dependencies.map((d) => d.name)));
  return closure.thirdParty.filter((p) => !depended.has(p.name)).map((p) => (p.version ? `${p.name}==${p.version}` : p.name));
}

/**
 * PEX-INFO's requirements, sorted, one per project where a lock's pin and a declared requirement
 * name the same project (`click` and `click==8.5.1` → `click`): the declared one is kept.
 */
export function dedupeRoots(roots: Iterable<string>): string[] {
  const all = [...new Set(roots)];
  const nameOf = (r: string) => canonicalizeName(/^[A-Za-z0-9._-]+/.exec(r.trim())?.[0] ?? r);
  const pin = /^[A-Za-z0-9._-]+==[^;,\s]+$/;
  return all.filter((r) => !(pin.test(r) && all.some((o) => o !== r && nameOf(o) === nameOf(r)))).sort();
}
