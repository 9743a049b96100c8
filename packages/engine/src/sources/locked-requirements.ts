/**
 * Requirements selected from a lock (pex's `--lock` / `--pylock`): each names a locked package,
 * whose closure the lock gives; a pylock.toml without requirements installs all it holds for the
 * target, as pex does.
 */
import { dirname } from 'node:path';
import type { Requirement, TargetPlatform } from '@nx-pex/pep';
import { pylockClosure, readPylock, requirementsClosure, type Lockfile } from '@nx-pex/lock';
import type { LockSource } from '../lock-source';
import { pylockLockfile } from '../locks';
import { openClosureSource } from './closure-source';
import { lockRequirements, pinnedRequirements } from './runtime-requirements';

export interface LockedRequirementsRequest {
  lockFile: string;
  requirements: readonly Requirement[];
  targets: readonly TargetPlatform[];
}

/** Requirements selected from a package lock that `read` gives as a Lockfile. */
export async function lockedRequirementsSource(r: LockedRequirementsRequest, read: (path: string) => Promise<Lockfile>): Promise<LockSource> {
  const lock = await read(r.lockFile);
  return openClosureSource({
    lockFile: r.lockFile,
    description: `lock ${r.lockFile}`,
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
    description: `lock ${r.lockFile}`,
    projectRoot: dirname(r.lockFile),
    targets: r.targets,
    closure: (t) => pylockClosure(pylock, t),
    requirements: (closure) => pinnedRequirements(closure),
  });
}
