/**
 * What every lock with a package graph shares (uv.lock, pylock.toml, poetry.lock; a pex lock
 * plugs in here too): per target a closure of the lock, its files, its first-party projects, its
 * pins and requirements, all worked out when the source is opened (no index needed, so a stale
 * lock stops the build before any download).
 */
import { canonicalizeName, evaluateMarker, UserError, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import type { Closure } from '@nx-pex/lock';
import type { LockSource, TargetSelection } from '../lock-source';
import { lockedArtifactRequest, selectLockedFiles } from '../locked-sdists';
import { lockedProjects } from '../pipeline';
import { closurePins } from './runtime-requirements';

export interface ClosureSourceOptions {
  lockFile: string;
  description: string;
  /** Directory whose index settings apply; default the lock's directory. */
  projectRoot: string;
  targets: readonly TargetPlatform[];
  /** The lock's closure for a target. */
  closure(target: TargetPlatform): Closure;
  /** PEX-INFO requirements of the target's closure; `members` holds its first-party projects by canonical name. */
  requirements(closure: Closure, target: TargetPlatform, members: ReadonlyMap<string, PyProject>): string[];
  /** Projects in the PEX whatever the lock says (the project being built, which a user's lock may not list). */
  own?: readonly PyProject[];
  /** A check of one target's closure against its first-party projects (a stale lock). */
  check?(closure: Closure, firstParty: readonly PyProject[], target: TargetPlatform): void;
}

/** Opens a source over a lock's closures: every target's selection is made here. */
export async function openClosureSource(o: ClosureSourceOptions): Promise<LockSource & { firstParty: PyProject[] }> {
  const members = new Map<string, PyProject>((o.own ?? []).map((p) => [p.canonicalName!, p]));
  const selections = new Map<string, TargetSelection>();
  for (const target of o.targets) {
    const closure = o.closure(target);
    const { wheels, sdists } = selectLockedFiles(closure, target, o.lockFile);
    const unread = closure.firstParty.filter((p) => !members.has(p.name));
    for (const p of await lockedProjects(unread, o.lockFile)) members.set(p.canonicalName!, p);
    const names = new Set([...(o.own ?? []).map((p) => p.canonicalName!), ...closure.firstParty.map((p) => p.name)]);
    const firstParty = [...names].map((n) => members.get(n)).filter((p): p is PyProject => p !== undefined);
    o.check?.(closure, firstParty, target);
    selections.set(target.id, {
      target,
      wheels: wheels.map((w) => lockedArtifactRequest(w, o.lockFile)),
      sdists,
      firstParty,
      requirements: o.requirements(closure, target, members),
      pins: closurePins(closure),
    });
  }
  return {
    lockFile: o.lockFile,
    description: o.description,
    projectRoot: o.projectRoot,
    firstParty: [...new Set([...selections.values()].flatMap((s) => s.firstParty))],
    async select(target) {
      const s = selections.get(target.id);
      if (!s) throw new Error(`${o.lockFile}: no selection was made for ${target.id}`);
      return s;
    },
  };
}

/**
 * A dependency a first-party project declares that is neither first-party (`own`) nor in the
 * lock's selection (`locked`) for the target: the lock is out of date (`relock` says what to run).
 */
export function checkDeclaredAreLocked(
  firstParty: readonly PyProject[],
  names: { own: ReadonlySet<string>; locked: ReadonlySet<string> },
  target: TargetPlatform,
  lockFile: string,
  relock: string,
): void {
  for (const p of firstParty) {
    for (const req of p.dependencies) {
      const name = canonicalizeName(req.name);
      if (names.own.has(name) || names.locked.has(name)) continue;
      if (req.marker && !evaluateMarker(req.marker, target.markerEnvironment)) continue;
      throw new UserError(`${p.file} depends on ${req.name}, but ${lockFile} has no ${req.name} for ${p.name} on ${target.id}. The lock is out of date: ${relock}.`);
    }
  }
}

/** `checkDeclaredAreLocked` against a closure of the lock. */
export function checkLockIsCurrent(firstParty: readonly PyProject[], closure: Closure, target: TargetPlatform, lockFile: string, relock: string): void {
  const own = new Set([...firstParty.map((p) => p.canonicalName!), ...closure.firstParty.map((p) => p.name)]);
  checkDeclaredAreLocked(firstParty, { own, locked: new Set(closure.thirdParty.map((p) => p.name)) }, target, lockFile, relock);
}
