/**
 * Whether a project's per-project pylock.toml still says what the uv.lock says. A stale one (the
 * uv.lock changed and `nx sync` did not run) would leave the project unaffected and its cache key
 * unchanged: while it is stale the uv.lock itself becomes an input of the build, so
 * `nx affected` runs the build, which stops with "run `nx sync`".
 */
import { basename, dirname, relative, sep } from 'node:path';
import { generatedPylockHeader, generatedPylockText, isStandaloneNxPexPylock, lockCoversProject, parseUvLock, type Lockfile } from '@nx-pex/lock';
import { readCached } from './read-cache';

/**
 * current: the generated pylock.toml matches the uv.lock, or the pylock.toml is the user's own;
 * stale: it is missing or no longer matches; shadowed: `nx-pex lock` wrote it, and the uv.lock
 * now covers the project too; none: no uv.lock to compare with.
 */
export type PerProjectLockState = 'current' | 'stale' | 'shadowed' | 'none';

function posixRel(from: string, to: string): string {
  const r = relative(from, to).split(sep).join('/');
  return r === '' ? '.' : r;
}

export function perProjectLockState(pylockText: string | null, uvLockAbs: string | undefined, project: string, projectDirAbs: string): PerProjectLockState {
  if (!uvLockAbs) return 'none';
  const text = readCached(uvLockAbs);
  if (text === undefined) return 'none';
  let lock: Lockfile;
  try {
    lock = parseUvLock(text, uvLockAbs);
  } catch {
    return 'none'; // the build reports the broken lock
  }
  if (!lockCoversProject(lock, project)) return 'none';
  if (pylockText === null) return 'stale';
  if (isStandaloneNxPexPylock(pylockText)) return 'shadowed';
  if (!generatedPylockHeader(pylockText)) return 'current';
  let expected: string;
  try {
    expected = generatedPylockText(lock, project, { outputDir: posixRel(dirname(uvLockAbs), projectDirAbs), lockDir: '.', lockName: basename(uvLockAbs) });
  } catch {
    return 'stale';
  }
  return expected === pylockText ? 'current' : 'stale';
}
