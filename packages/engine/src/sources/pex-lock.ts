/**
 * pex's JSON lock (`pex3 lock create`, styles strict, sources and universal): requirements are
 * selected from it with pex's own subsetting (packages/lock's pexLockClosure); without
 * requirements, the lock's own requirements are taken, as `pex --lock` does. A project build
 * reads uv.lock, pylock.toml or poetry.lock, not a pex lock.
 */
import { basename, dirname } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { looksLikePexLock, pexLockClosure, readPexLock } from '@nx-pex/lock';
import { shownPath } from '../outputs';
import type { LockKindModule } from './kind';
import { openClosureSource } from './closure-source';
import { lockRequirements } from './runtime-requirements';

export const pexLockKind: LockKindModule = {
  kind: 'pex',
  byName: () => false,
  byContent: looksLikePexLock,
  openProject: async ({ lockFile }) => {
    throw new UserError(
      `${lockFile} is a pex lock, which nx-pex takes as the lock of requirements (\`nx-pex build --lock ${basename(lockFile)} REQ...\`); a project build reads uv.lock, pylock.toml or poetry.lock.`,
    );
  },
  openRequirements: async (r) => {
    const lock = await readPexLock(r.lockFile);
    return openClosureSource({
      lockFile: r.lockFile,
      description: `lock ${shownPath(r.lockFile)}`,
      projectRoot: dirname(r.lockFile),
      targets: r.targets,
      closure: (t) => pexLockClosure(lock, r.requirements, t, r.noTransitive ? { transitive: false } : {}),
      // Without requirements, the lock's own (what `pex3 lock create` was given) are PEX-INFO's.
      requirements: (closure, t, members) =>
        r.requirements.length ? lockRequirements(closure, t, members, r.requirements) : [...(closure.root.requiresDist ?? [])].sort(),
    });
  },
};
