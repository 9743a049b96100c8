/**
 * Requirements selected from a lock (pex's `--lock` / `--pylock`): each names a locked package,
 * whose closure the lock gives; a pylock.toml without requirements installs all it holds for the
 * target, as pex does.
 */
import { dirname } from 'node:path';
import { canonicalizeName, formatRequirement, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { pylockClosure, readPylock, requirementsClosure, type Closure, type Lockfile } from '@nx-pex/lock';
import { shownPath } from '../outputs';
import type { LockSource } from '../lock-source';
import { pylockLockfile } from '../locks';
import { openClosureSource } from './closure-source';
import { lockRequirements } from './runtime-requirements';

export interface LockedRequirementsRequest {
  lockFile: string;
  requirements: readonly Requirement[];
  targets: readonly TargetPlatform[];
  /** Only the requirements themselves (`--no-transitive`), where the lock's reader supports it. */
  noTransitive?: boolean;
}

/** Requirements selected from a package lock that `read` gives as a Lockfile. */
export async function lockedRequirementsSource(r: LockedRequirementsRequest, read: (path: string) => Promise<Lockfile>): Promise<LockSource> {
  const lock = await read(r.lockFile);
  return openClosureSource({
    lockFile: r.lockFile,
    description: `lock ${shownPath(r.lockFile)}`,
    projectRoot: dirname(r.lockFile),
    targets: r.targets,
    closure: (t) => requirementsClosure(lock, r.requirements, t),
    requirements: (closure, t, members) => lockRequirements(closure, t, members, r.requirements),
  });
}

/** Requirements selected from a PEP 751 lock; none: everything it installs on the target. */
export async function pylockRequirementsSource(r: LockedRequirementsRequest): Promise<LockSource> {
  if (r.requirements.length > 0) return lockedRequirementsSource(r, async (path) => pylockLockfile(await readPylock(path), path));
  const pylock = await readPylock(r.lockFile);
  return openClosureSource({
    lockFile: r.lockFile,
    description: `lock ${shownPath(r.lockFile)}`,
    projectRoot: dirname(r.lockFile),
    targets: r.targets,
    closure: (t) => pylockClosure(pylock, t),
    requirements: (closure, _t, members) => wholeLockRoots(closure, members),
  });
}

/**
 * The roots of a whole pylock, as pex takes them: the installed packages no other installed
 * package depends on (by the lock's `dependencies`), third-party ones pinned; a first-party
 * project stands for its declared third-party dependencies. One requirement per project: where a
 * pin and a declared requirement name the same project (`click` and `click==8.5.1`), the
 * declared one is kept.
 */
function wholeLockRoots(closure: Closure, members: ReadonlyMap<string, PyProject>): string[] {
  const own = new Set(closure.firstParty.map((p) => p.name));
  const depended = new Set(closure.packages.flatMap((e) => e.pkg.dependencies.map((d) => d.name)));
  const pins = closure.thirdParty.filter((p) => !depended.has(p.name)).map((p) => ({ name: p.name, text: p.version ? `${p.name}==${p.version}` : p.name }));
  const declared = closure.firstParty
    .flatMap((p) => members.get(p.name)?.dependencies ?? [])
    .filter((d) => !own.has(canonicalizeName(d.name)))
    .map((d) => ({ name: canonicalizeName(d.name), text: formatRequirement(d) }));
  const declaredNames = new Set(declared.map((d) => d.name));
  return [...new Set([...declared, ...pins.filter((p) => !declaredNames.has(p.name))].map((r) => r.text))].sort();
}
