/**
 * A Poetry project built from its poetry.lock: the lock has no entry for the project itself, so
 * the requirements of its main group select from the lock (path dependencies are its
 * first-party projects).
 */
import { dirname } from 'node:path';
import { parseRequirement } from '@nx-pex/pep';
import { poetryGroupRequirements, readPoetryLock, requirementsClosure } from '@nx-pex/lock';
import type { LockSource } from '../lock-source';
import { checkLockIsCurrent, openClosureSource } from './closure-source';
import type { ProjectSourceRequest } from './project-request';
import { lockRequirements } from './runtime-requirements';
import type { LockKindModule } from './kind';
import { lockedRequirementsSource } from './locked-requirements';

export async function poetryProjectSource(r: ProjectSourceRequest): Promise<LockSource> {
  const { project, lockFile } = r;
  r.announce(`lock ${lockFile}`);
  const lock = await readPoetryLock(lockFile);
  const main = poetryGroupRequirements(project.raw, ['main']).map((t) => parseRequirement(t));
  return openClosureSource({
    lockFile,
    description: `lock ${lockFile}`,
    projectRoot: dirname(lockFile),
    targets: r.targets,
    closure: (t) => requirementsClosure(lock, main, t),
    // The main group is the project's own edges; path dependencies add theirs.
    requirements: (closure, t, members) => lockRequirements(closure, t, members, main),
    own: [project],
    check: (closure, firstParty, t) => checkLockIsCurrent(firstParty, closure, t, lockFile, 'run `poetry lock`'),
  });
}


export const poetryLockKind: LockKindModule = {
  kind: 'poetry',
  byName: (name) => name === 'poetry.lock',
  byContent: (head) =>
    (/^\s*\[metadata\]/m.test(head) && /^\s*lock-version\s*=/m.test(head)) || (/^\s*\[\[\s*package\s*\]\]/m.test(head) && /^\s*files\s*=/m.test(head) && !/^\s*version\s*=\s*\d+\s*$/m.test(head)),
  openProject: poetryProjectSource,
  openRequirements: (r) => lockedRequirementsSource(r, readPoetryLock),
};
