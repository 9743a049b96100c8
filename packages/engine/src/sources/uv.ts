/**
 * A project built from a uv.lock, or from a PEP 751 pylock.toml: its own (generated from the
 * workspace's uv.lock by `nx sync`, or the user's) or one named as its lock.
 */
import { dirname } from 'node:path';
import { UserError } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { lockClosure, readUvLock, type Lockfile } from '@nx-pex/lock';
import type { LockSource } from '../lock-source';
import { lockedProjects } from '../pipeline';
import { openProjectLock, type ProjectLock } from '../project-lock';
import { checkWorkspaceImports } from '../undeclared-imports';
import { checkWorkspaceDependencies } from '../workspace-checks';
import { checkLockIsCurrent, openClosureSource, type ClosureSourceOptions } from './closure-source';
import type { ProjectSourceRequest } from './project-request';
import type { LockKindModule } from './kind';
import { lockedRequirementsSource, pylockRequirementsSource } from './locked-requirements';
import { checkRequirementsCovered, lockRequirements, pinnedRequirements } from './runtime-requirements';

/** Every workspace member the uv.lock names; one that cannot be read (a broken pyproject.toml) is reported by its own build. */
async function workspaceProjects(uvLock: Lockfile): Promise<PyProject[]> {
  const members = uvLock.packages.filter((p) => uvLock.workspaceMembers.includes(p.name) && 'path' in p.source && p.source.kind !== 'virtual');
  const read = await Promise.all(
    members.map((member) =>
      lockedProjects([member], uvLock.path).catch((e: unknown) => {
        if (e instanceof UserError) return [];
        throw e;
      }),
    ),
  );
  return read.flat();
}

/**
 * How PEX-INFO requirements come out of the lock: the uv.lock's edges; for a generated
 * pylock.toml, those of the uv.lock it was checked against (PEP 751 records no edges); for a
 * user's own pylock.toml, every package it installs, pinned.
 */
function requirementsOf(projectLock: ProjectLock, project: string): ClosureSourceOptions['requirements'] {
  const uvLock = projectLock.uvLock;
  if (projectLock.kind === 'uv') return (closure, t, members) => lockRequirements(closure, t, members);
  if (!projectLock.generated || !uvLock) return (closure) => pinnedRequirements(closure);
  return (closure, t, members) => {
    const reqs = lockRequirements(lockClosure(uvLock, project, t), t, members);
    checkRequirementsCovered(reqs, closure, t, projectLock.path, 'Run `nx sync` to write it again from the uv.lock.');
    return reqs;
  };
}

export async function uvProjectSource(r: ProjectSourceRequest): Promise<LockSource> {
  const { project } = r;
  const projectLock = await openProjectLock({
    projectDir: project.dir,
    project: project.name!,
    lockFile: r.explicit ? r.lockFile : undefined,
    workspaceRoot: r.workspaceRoot,
    lockPerProject: r.lockPerProject,
  });
  const lockFile = projectLock.path;
  r.announce(`lock ${lockFile}`);
  // The other workspace projects, for the checks of how projects depend on each other.
  const uvLock = projectLock.uvLock;
  const workspace = uvLock ? await workspaceProjects(uvLock) : [];
  const wsRoot = r.workspaceRoot ?? (uvLock ? dirname(uvLock.path) : project.dir);
  if (uvLock) checkWorkspaceDependencies(project, workspace, wsRoot);
  const source = await openClosureSource({
    lockFile,
    description: `lock ${lockFile}`,
    projectRoot: dirname(lockFile),
    targets: r.targets,
    closure: (t) => projectLock.closure(t),
    requirements: requirementsOf(projectLock, project.name!),
    own: [project],
    check: (closure, firstParty, t) => checkLockIsCurrent(firstParty, closure, t, lockFile, 'run `uv lock`'),
  });
  if (uvLock) await checkWorkspaceImports(project, source.firstParty, workspace, wsRoot);
  return source;
}

export const uvLockKind: LockKindModule = {
  kind: 'uv',
  byName: (name) => name === 'uv.lock',
  byContent: (head) => /^\s*version\s*=\s*\d+\s*$/m.test(head) && /^\s*\[\[\s*package\s*\]\]/m.test(head),
  openProject: uvProjectSource,
  openRequirements: (r) => lockedRequirementsSource(r, readUvLock),
};

export const pylockKind: LockKindModule = {
  kind: 'pylock',
  byName: (name) => /^pylock(\.[^./]+)?\.toml$/.test(name),
  byContent: (head) => /^\s*\[\[\s*packages\s*\]\]/m.test(head) && /^\s*lock-version\s*=/m.test(head),
  openProject: uvProjectSource,
  openRequirements: pylockRequirementsSource,
};
