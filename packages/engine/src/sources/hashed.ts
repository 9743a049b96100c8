/**
 * A requirements file whose every requirement is pinned and hashed, as a lock (pip's
 * hash-checking mode): for each target, the lines whose markers hold name the wheels, looked up on
 * the indexes by sha256. Its lines are PEX-INFO's requirements, as pex takes `-r` files.
 */
import { dirname } from 'node:path';
import { canonicalizeName, UserError, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { isHashedLock, readRequirementsFileLock, type RequirementLine, type RequirementsFile } from '@nx-pex/lock';
import type { BuildContext } from '../context';
import type { LockSource, TargetSelection } from '../lock-source';
import { resolveHashed } from '../hashed';
import { artifactRequest } from '../pinned';
import type { IndexContext } from '../pipeline';
import { checkDeclaredAreLocked } from './closure-source';
import type { ProjectSourceRequest } from './project-request';
import type { LockKindModule } from './kind';

export interface HashedSourceOptions {
  files: readonly RequirementsFile[];
  /** Projects whose code goes in as sources (the project built from the file). */
  firstParty?: readonly PyProject[];
  /** Directory whose index settings apply. */
  projectRoot: string;
  /** The start of the message of an offline build (what names its files by sha256 only). */
  offlineWhat: string;
  /** Says what to use instead when the build is offline. */
  offlineAdvice: string;
}

export function hashedSource(o: HashedSourceOptions): LockSource {
  const lines: RequirementLine[] = o.files.flatMap((f) => f.requirements);
  const paths = o.files.map((f) => f.path).join(', ');
  return {
    description: `hashed requirements (${paths}) as a lock`,
    projectRoot: o.projectRoot,
    requirementsFiles: o.files,
    async select(target: TargetPlatform, index: IndexContext, ctx: BuildContext): Promise<TargetSelection> {
      if (ctx.offline) throw new UserError(`${o.offlineWhat} names its files by sha256 only, so they are looked up on the indexes, which an offline build cannot do: ${o.offlineAdvice}`);
      const { wheels, requirements } = await resolveHashed(lines, { ...index, target, log: ctx.logging ? ctx.log : undefined });
      return {
        target,
        wheels: wheels.map(artifactRequest),
        sdists: [],
        firstParty: [...(o.firstParty ?? [])],
        requirements,
        pins: wheels.map((w) => `${w.name}==${w.version}`),
      };
    },
  };
}

/** A project locked by a hashed requirements file: its pins are the third-party closure. */
export async function hashedProjectSource(r: ProjectSourceRequest): Promise<LockSource> {
  const { project, lockFile } = r;
  r.announce(`lock ${lockFile}`);
  const rf = await readRequirementsFileLock(lockFile, r.ctx.env);
  if (!isHashedLock(rf)) {
    throw new UserError(
      `${lockFile}, the lock of ${project.name}, has no --hash options: a requirements file is a lock only when every requirement is pinned and hashed ` +
        '(pip-compile --generate-hashes, uv export, poetry export write them).',
    );
  }
  const locked = new Set(rf.requirements.map((l) => canonicalizeName(l.requirement.name)));
  const own = new Set([project.canonicalName!]);
  for (const t of r.targets) checkDeclaredAreLocked([project], { own, locked }, t, lockFile, 'regenerate it (pip-compile, uv export, poetry export)');
  const source = hashedSource({
    files: [rf],
    firstParty: [project],
    projectRoot: dirname(lockFile),
    offlineWhat: lockFile,
    offlineAdvice: `build online, or lock ${project.name} with a lock that names its files (uv.lock, poetry.lock).`,
  });
  return { ...source, lockFile, description: `lock ${lockFile}` };
}

/** A requirements file (any file no other kind claims). */
export const requirementsLockKind: LockKindModule = {
  kind: 'requirements',
  byName: (name) => /\.(txt|in)$/.test(name),
  byContent: () => true,
  openProject: hashedProjectSource,
};
