/**
 * A workspace project's test lock: its part of a uv.lock (as `projectPylock` gives it) plus the
 * packages of its test dependency groups (PEP 735 `[dependency-groups]`, which uv.lock records
 * under `[package.dev-dependencies]`) and test extras, as one PEP 751 lock. The test-only packages
 * carry PEP 751's `'<group>' in dependency_groups` (or `'<extra>' in extras`) markers, and the
 * lock's `default-groups` name the groups, so an installer of the file gets the test environment
 * while a reader that asks for no group gets exactly the production closure.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { canonicalizeName } from '@nx-pex/pep';
import { LockError } from './errors';
import { formatPylock, type Pylock, type PylockPackage } from './pylock';
import { projectPylock, type ProjectPylockOptions } from './pylock-export';
import { isFirstPartySource } from './source';
import type { LockedPackage, Lockfile } from './types';

/** The dependency groups a test environment installs, when the project has them (uv's default group is `dev`). */
export const TEST_GROUPS: readonly string[] = ['dev', 'test', 'tests'];
/** The extras (`[project.optional-dependencies]`) a test environment installs, when the project has them. */
export const TEST_EXTRAS: readonly string[] = ['test', 'tests'];

export interface TestSelection {
  /** Dependency groups of the project that tests install (canonical, sorted). */
  groups: string[];
  /** Extras of the project that tests install (canonical, sorted). */
  extras: string[];
}

function rootOf(lock: Lockfile, project: string): LockedPackage | undefined {
  const name = canonicalizeName(project);
  const members = new Set(lock.workspaceMembers);
  return lock.packages.find((p) => p.name === name && (members.has(p.name) || isFirstPartySource(p.source)));
}

/** The test groups and extras `project` has in `lock` (empty when it has none, or is not in the lock). */
export function testSelection(lock: Lockfile, project: string): TestSelection {
  const root = rootOf(lock, project);
  if (!root) return { groups: [], extras: [] };
  return {
    groups: TEST_GROUPS.filter((g) => g in root.dependencyGroups).sort(),
    extras: TEST_EXTRAS.filter((x) => x in root.optionalDependencies).sort(),
  };
}

const key = (p: PylockPackage) => `${p.name}\0${p.version ?? ''}\0${p.directory?.path ?? p.archive?.url ?? p.archive?.path ?? p.vcs?.url ?? p.index ?? ''}`;

function wrap(marker: string): string {
  return / or /i.test(marker) ? `(${marker})` : marker;
}

/**
 * The test lock of `project` (no header lines), or undefined when the project has no test group
 * or extra in the lock. Production packages keep the marker `projectPylock` gives them unless a
 * test group needs them more widely; packages only a test group needs are installed only with it.
 */
export function projectTestPylock(lock: Lockfile, project: string, o: ProjectPylockOptions): Pylock | undefined {
  const sel = testSelection(lock, project);
  if (sel.groups.length === 0 && sel.extras.length === 0) return undefined;
  const base = projectPylock(lock, project, o);
  // One closure per group and extra: each package's marker says under which of them it is needed.
  const parts: Array<{ condition: string; pylock: Pylock }> = [
    ...sel.groups.map((g) => ({ condition: `'${g}' in dependency_groups`, pylock: projectPylock(lock, project, o, { groups: [g] }) })),
    ...sel.extras.map((x) => ({ condition: `'${x}' in extras`, pylock: projectPylock(lock, project, o, { extras: [x] }) })),
  ];
  const entries = new Map<string, { pkg: PylockPackage; terms: string[]; always: boolean }>();
  for (const p of base.packages) entries.set(key(p), { pkg: p, terms: p.marker !== undefined ? [p.marker] : [], always: p.marker === undefined });
  for (const { condition, pylock } of parts) {
    for (const p of pylock.packages) {
      let e = entries.get(key(p));
      if (!e) entries.set(key(p), (e = { pkg: { ...p }, terms: [], always: false }));
      if (e.always) continue;
      const own = base.packages.find((b) => key(b) === key(p));
      // The group needs it where production does already: nothing to add.
      if (own && own.marker === p.marker) continue;
      e.terms.push(p.marker === undefined ? condition : `${condition} and ${wrap(p.marker)}`);
    }
  }
  const packages: PylockPackage[] = [];
  for (const e of entries.values()) {
    const pkg: PylockPackage = { ...e.pkg };
    delete pkg.marker;
    if (!e.always) {
      const terms = [...new Set(e.terms)];
      if (terms.length === 0) throw new LockError(`${lock.path}: ${pkg.name} is in ${project}'s test closure under no condition; regenerate the lock with \`uv lock\`.`, lock.path);
      pkg.marker = terms.length === 1 ? terms[0] : terms.map(wrap).join(' or ');
    }
    packages.push(pkg);
  }
  packages.sort((a, b) => cmp(a.name, b.name) || cmp(a.version ?? '', b.version ?? ''));
  return { ...base, packages, dependencyGroups: sel.groups, defaultGroups: sel.groups, extras: sel.extras };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The full text of a generated `pylock.test.toml`, with the same first line as a generated
 * pylock.toml (so that `generatedPylockHeader` recognises it), or undefined when the project has
 * no test group or extra.
 */
export function generatedTestPylockText(lock: Lockfile, project: string, o: ProjectPylockOptions & { lockName?: string }): string | undefined {
  const pylock = projectTestPylock(lock, project, o);
  if (!pylock) return undefined;
  const what = [
    ...pylock.dependencyGroups.map((g) => `the dependency group ${g}`),
    ...pylock.extras.map((x) => `the extra ${x}`),
  ].join(', ');
  pylock.header = [
    `This file lists every package ${canonicalizeName(project)} needs to run its tests (its closure plus ${what}), on every platform the uv.lock covers.`,
    'nx-pex runs the tests from it; builds read pylock.toml, so a bump of a test-only package changes this file alone.',
  ];
  const body = formatPylock(pylock);
  const fromDir = posix.normalize(o.outputDir || '.');
  const lockRel = posix.relative(fromDir, posix.join(posix.normalize(o.lockDir || '.'), o.lockName ?? 'uv.lock')) || '.';
  const sha = createHash('sha256').update(body).digest('hex');
  return `# Generated by nx-pex from ${lockRel} (sha256 ${sha} of this project's part). Do not edit: run \`nx sync\` to refresh it.\n${body}`;
}
