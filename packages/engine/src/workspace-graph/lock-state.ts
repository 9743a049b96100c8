/**
 * Whether a project's per-project pylock.toml still says what the uv.lock says. A stale one (the
 * uv.lock changed and `nx sync` did not run) would leave the project unaffected and its cache key
 * unchanged: while it is stale the uv.lock itself becomes an input of the build, so
 * `nx affected` runs the build, which stops with "run `nx sync`".
 */
import { createHash } from 'node:crypto';
import { basename, dirname, relative, sep } from 'node:path';
import {
  generatedPylockHeader,
  generatedPylockKey,
  generatedPylockText,
  isStandaloneNxPexPylock,
  lockCoversProject,
  parseUvLock,
  type Lockfile,
} from '@nx-pex/lock';
import { readCached, textSha } from './file-texts';
import type { SummaryCache } from './summary-cache';

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

/**
 * What the project's generated pylock.toml should hash to now: its sha256, null when the uv.lock
 * does not cover the project (or does not parse), '' when it covers it but no lock can be made.
 * Kept in `cache` by the uv.lock's content hash, so an unchanged uv.lock is never parsed again.
 */
function expectedPylockSha(uvLockAbs: string, uvText: string, project: string, projectDirAbs: string, cache: SummaryCache): string | null {
  const outputDir = posixRel(dirname(uvLockAbs), projectDirAbs);
  const key = generatedPylockKey(textSha(uvLockAbs, uvText), project, outputDir);
  const known = cache.get<string | null>(key);
  if (known !== undefined) return known;
  let value: string | null;
  let lock: Lockfile | undefined;
  try {
    lock = parseUvLock(uvText, uvLockAbs);
  } catch {
    lock = undefined; // the build reports the broken lock
  }
  if (!lock || !lockCoversProject(lock, project)) value = null;
  else {
    try {
      value = createHash('sha256').update(generatedPylockText(lock, project, { outputDir, lockDir: '.', lockName: basename(uvLockAbs) })).digest('hex');
    } catch {
      value = '';
    }
  }
  cache.set(key, value);
  return value;
}

/** The state of `project`'s pylock.toml (`pylockText`, null when there is none) against the uv.lock at `uvLockAbs`. */
export function perProjectLockState(pylockText: string | null, uvLockAbs: string | undefined, project: string, projectDirAbs: string, cache: SummaryCache): PerProjectLockState {
  if (!uvLockAbs) return 'none';
  const uvText = readCached(uvLockAbs);
  if (uvText === undefined) return 'none';
  const expected = expectedPylockSha(uvLockAbs, uvText, project, projectDirAbs, cache);
  if (expected === null) return 'none';
  if (pylockText === null) return 'stale';
  if (isStandaloneNxPexPylock(pylockText)) return 'shadowed';
  if (!generatedPylockHeader(pylockText)) return 'current';
  return expected !== '' && createHash('sha256').update(pylockText).digest('hex') === expected ? 'current' : 'stale';
}

/**
 * Whether the project's pylock.toml is missing, stale, or a lock of `nx-pex lock` that the
 * uv.lock at `lockAbs` now shadows: then the uv.lock is an input of its build (so `nx affected`
 * runs it, and the build says what to do) until `nx sync` brings it in line.
 */
export function pylockNeedsSync(project: string | undefined, pylockText: string | null, lockAbs: string | undefined, projectDirAbs: string, cache: SummaryCache): boolean {
  if (!project || !lockAbs || basename(lockAbs) !== 'uv.lock') return false;
  const state = perProjectLockState(pylockText, lockAbs, project, projectDirAbs, cache);
  return state === 'stale' || state === 'shadowed';
}
