import {
  canonicalizeName,
  evaluateMarker,
  formatRequirement,
  Marker,
  nearestPlatforms,
  parseRequirement,
  selectBestWheel,
  TargetPlatform,
  versionSatisfies,
} from '@nx-pex/pep';
import { LockError, NoWheelForPlatformError } from './errors';
import { isFirstPartySource, sourceKey } from './source';
import type { LockedArtifact, LockedDependency, LockedPackage, Lockfile } from './types';

export interface ClosureEntry {
  pkg: LockedPackage;
  /** Workspace member, or an editable / directory / virtual source. */
  firstParty: boolean;
  /** Extras of this package the closure activates (canonical, sorted). */
  extras: string[];
}

export interface Closure {
  root: LockedPackage;
  /** Sorted by name (then version), root included. */
  packages: ClosureEntry[];
  thirdParty: LockedPackage[];
  firstParty: LockedPackage[];
  /** The lock the closure was taken from (lets rootRequirements know every first-party name). */
  lock?: Lockfile;
}

function describe(pkg: LockedPackage): string {
  return pkg.version !== undefined ? `${pkg.name} ${pkg.version}` : pkg.name;
}

function where(lock: Lockfile, pkg?: LockedPackage): string {
  return pkg?.line !== undefined ? `${lock.path}:${pkg.line}` : lock.path;
}

/** A test for the workspace's own packages: members of the workspace, and editable / directory / virtual sources. */
function firstPartyOf(lock: Lockfile): (pkg: LockedPackage) => boolean {
  const members = new Set(lock.workspaceMembers);
  return (pkg) => members.has(pkg.name) || isFirstPartySource(pkg.source);
}

/** Packages of a lock grouped by canonical name. */
function byName(lock: Lockfile): Map<string, LockedPackage[]> {
  const map = new Map<string, LockedPackage[]>();
  for (const pkg of lock.packages) {
    const list = map.get(pkg.name);
    if (list) list.push(pkg);
    else map.set(pkg.name, [pkg]);
  }
  return map;
}

/** The package a dependency edge points to: same name, and same version/source where the edge says. */
function resolveEdge(lock: Lockfile, index: Map<string, LockedPackage[]>, from: LockedPackage, dep: LockedDependency): LockedPackage {
  const candidates = (index.get(dep.name) ?? []).filter(
    (p) => (dep.version === undefined || p.version === dep.version) && (dep.source === undefined || sourceKey(p.source) === dep.source),
  );
  const wanted = `${dep.name}${dep.version !== undefined ? ` ${dep.version}` : ''}${dep.source !== undefined ? ` from ${dep.source}` : ''}`;
  if (candidates.length === 0) {
    throw new LockError(
      `${where(lock, from)}: ${describe(from)} depends on ${wanted}, which is not in the lock. The lock is inconsistent; regenerate it with \`uv lock\`.`,
      lock.path,
      from.line,
    );
  }
  if (candidates.length > 1) {
    throw new LockError(
      `${where(lock, from)}: ${describe(from)} depends on ${wanted}, which matches ${candidates.length} lock entries ` +
        `(${candidates.map((c) => `${describe(c)} from ${sourceKey(c.source)}`).join('; ')}). Regenerate the lock with \`uv lock\`.`,
      lock.path,
      from.line,
    );
  }
  return candidates[0];
}

/** uv's spelling of conflict items inside markers (`extra == 'extra-3-pkg-cpu'`). */
function encodeProject(pkg: string): string {
  return `project-${pkg.length}-${pkg}`;
}
function encodeExtra(pkg: string, extra: string): string {
  return `extra-${pkg.length}-${pkg}-${extra}`;
}

function findProject(lock: Lockfile, index: Map<string, LockedPackage[]>, isFirstParty: (pkg: LockedPackage) => boolean, project: string): LockedPackage {
  const name = canonicalizeName(project);
  const all = index.get(name) ?? [];
  const own = all.filter(isFirstParty);
  if (own.length === 1) return own[0];
  if (own.length > 1) {
    throw new LockError(
      `${lock.path}: project '${name}' appears ${own.length} times as a workspace project (${own.map((p) => sourceKey(p.source)).join(', ')}). Regenerate the lock with \`uv lock\`.`,
      lock.path,
    );
  }
  if (all.length > 0) {
    throw new LockError(
      `${lock.path}: '${name}' is locked only as a third-party package (${all.map((p) => `${describe(p)} from ${sourceKey(p.source)}`).join('; ')}), not as a project of this workspace. ` +
        `Build a workspace member instead${lock.workspaceMembers.length ? ` (members: ${lock.workspaceMembers.join(', ')})` : ''}.`,
      lock.path,
    );
  }
  const known = lock.packages.filter(isFirstParty).map((p) => p.name);
  throw new LockError(
    `${lock.path}: project '${name}' is not in the lock${known.length ? ` (workspace projects in it: ${[...new Set(known)].sort().join(', ')})` : ''}. ` +
      `If it is a new or renamed project, run \`uv lock\` to update the lock.`,
    lock.path,
  );
}

/**
 * The packages one workspace project needs on one target: its production dependencies and
 * the requested extras, following only edges whose markers hold for the target, as
 * `uv sync --package <project> --no-dev` installs them.
 */
export function lockClosure(lock: Lockfile, project: string, target: TargetPlatform, opts: { extras?: string[] } = {}): Closure {
  const index = byName(lock);
  const isFirstParty = firstPartyOf(lock);
  const root = findProject(lock, index, isFirstParty, project);
  const env = target.markerEnvironment;

  if (lock.requiresPython && !versionSatisfies(target.pythonVersion, lock.requiresPython, { prereleases: true })) {
    throw new LockError(
      `${lock.path}: target ${target.id} runs Python ${target.pythonVersion}, outside the lock's requires-python '${lock.requiresPython}'. ` +
        `Choose a target interpreter within that range, or widen requires-python and run \`uv lock\`.`,
      lock.path,
    );
  }

  const requested = [...new Set((opts.extras ?? []).map(canonicalizeName))].sort();
  const declared = new Set([...Object.keys(root.optionalDependencies), ...(root.providesExtras ?? [])]);
  const unknown = requested.filter((e) => !declared.has(e));
  if (unknown.length) {
    throw new LockError(
      `${where(lock, root)}: project '${root.name}' has no extra ${unknown.map((e) => `'${e}'`).join(', ')} in the lock` +
        `${declared.size ? ` (it declares: ${[...declared].sort().join(', ')})` : ' (it declares none)'}. ` +
        `Fix the extras asked for, or add them to [project.optional-dependencies] and run \`uv lock\`.`,
      lock.path,
      root.line,
    );
  }

  // Conflict markers (`extra == 'extra-N-pkg-x'`) depend on which extras the whole closure
  // activates, so with conflicts the walk repeats until that set stops growing.
  const hasConflicts = lock.conflicts.length > 0;
  const activated = new Set<string>([encodeProject(root.name), ...requested.map((e) => encodeExtra(root.name, e))]);

  const position = new Map(lock.packages.map((p, i) => [p, i]));
  const walk = () => {
    const extrasOf = new Map<LockedPackage, Set<string>>([[root, new Set(requested)]]);
    const seen = new Set<string>();
    const queue: Array<[LockedPackage, string | undefined]> = [[root, undefined], ...requested.map((e): [LockedPackage, string] => [root, e])];
    const keyOf = (p: LockedPackage, e: string | undefined) => `${position.get(p)}\0${e ?? ''}`;
    for (const [p, e] of queue) seen.add(keyOf(p, e));
    let grew = false;
    for (let i = 0; i < queue.length; i++) {
      const [pkg, extra] = queue[i];
      const deps = extra === undefined ? pkg.dependencies : (pkg.optionalDependencies[extra] ?? []);
      for (const dep of deps) {
        if (dep.marker !== undefined) {
          const extras = hasConflicts ? [...activated, ...dep.extras.map((x) => encodeExtra(dep.name, x))] : [];
          let holds: boolean;
          try {
            holds = evaluateMarker(dep.marker, env, extras);
          } catch (e) {
            throw new LockError(
              `${where(lock, pkg)}: cannot evaluate the marker '${dep.marker}' of ${describe(pkg)}'s dependency on ${dep.name} for ${target.id}: ${(e as Error).message}`,
              lock.path,
              pkg.line,
            );
          }
          if (!holds) continue;
        }
        const to = resolveEdge(lock, index, pkg, dep);
        let ex = extrasOf.get(to);
        if (!ex) extrasOf.set(to, (ex = new Set()));
        for (const x of dep.extras) {
          ex.add(x);
          if (hasConflicts && !activated.has(encodeExtra(to.name, x))) {
            activated.add(encodeExtra(to.name, x));
            grew = true;
          }
        }
        for (const e of [undefined, ...dep.extras]) {
          const k = keyOf(to, e);
          if (!seen.has(k)) {
            seen.add(k);
            queue.push([to, e]);
          }
        }
      }
    }
    return { extrasOf, grew };
  };

  let result = walk();
  while (hasConflicts && result.grew) result = walk();

  const entries: ClosureEntry[] = [...result.extrasOf.entries()].map(([pkg, extras]) => ({
    pkg,
    // The root is first-party by construction (findProject).
    firstParty: isFirstParty(pkg),
    extras: [...extras].sort(),
  }));
  entries.sort((a, b) => cmp(a.pkg.name, b.pkg.name) || cmp(a.pkg.version ?? '', b.pkg.version ?? ''));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].pkg.name === entries[i - 1].pkg.name) {
      const a = entries[i - 1].pkg;
      const b = entries[i].pkg;
      throw new LockError(
        `${lock.path}: for ${target.id}, project '${root.name}' needs two entries of ${a.name} at once (${describe(a)} from ${sourceKey(a.source)} and ${describe(b)} from ${sourceKey(b.source)}). ` +
          `Their markers overlap or conflicting extras were combined; check the extras asked for, or regenerate the lock with \`uv lock\`.`,
        lock.path,
      );
    }
  }
  return {
    root,
    packages: entries,
    thirdParty: entries.filter((e) => !e.firstParty).map((e) => e.pkg),
    firstParty: entries.filter((e) => e.firstParty).map((e) => e.pkg),
    lock,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The wheel to install for each third-party package of a closure: the best-ranked
 * compatible one for the target. Throws NoWheelForPlatformError when a package has none.
 */
export function selectWheels(closure: Closure, target: TargetPlatform, lockPath: string): Array<{ pkg: LockedPackage; wheel: LockedArtifact }> {
  return closure.thirdParty.map((pkg) => {
    const wheel = selectBestWheel(pkg.wheels, target);
    if (wheel) return { pkg, wheel };
    throw noWheel(pkg, target, lockPath);
  });
}

function noWheel(pkg: LockedPackage, target: TargetPlatform, lockPath: string): NoWheelForPlatformError {
  const { wheels: names, platforms: works } = nearestPlatforms(
    pkg.wheels.map((w) => w.filename),
    target,
  );
  const at = pkg.line !== undefined ? `${lockPath}:${pkg.line}` : lockPath;
  let available: string;
  let advice: string;
  if (names.length) {
    const shown = names.length > 12 ? [...names.slice(0, 12), `… and ${names.length - 12} more`] : names;
    available = `The lock lists ${names.length} wheel(s), none compatible:\n  ${shown.join('\n  ')}`;
    advice = pkg.sdist && target.platform
      ? `Its sdist ${pkg.sdist.filename} cannot be built here for ${target.id}, which is not this machine's platform: build the wheel on ${target.id} (or in a container of it) and serve it from your index, pick another platform, or pin a version of ${pkg.name} with a wheel for it.`
      : pkg.sdist
      ? `Only its sdist ${pkg.sdist.filename} would fit, and building sdists is not supported yet. Pick a target these wheels support, pin a version of ${pkg.name} with a wheel for ${target.id}, or publish such a wheel to your index and run \`uv lock\`.`
      : `Pick a target these wheels support, or pin a version of ${pkg.name} with a wheel for ${target.id} and run \`uv lock\`.`;
  } else if (pkg.sdist) {
    available = `The lock has no wheels for it, only the sdist ${pkg.sdist.filename}.`;
    advice = `Building sdists is not supported yet: pin a version of ${pkg.name} that publishes a wheel, or build the wheel yourself, serve it from an index or find-links directory, and run \`uv lock\`.`;
  } else {
    available = `The lock has no files for it (source: ${sourceKey(pkg.source)}).`;
    advice = `Building from ${pkg.source.kind} sources is not supported yet: depend on a published wheel instead, or build the wheel, serve it from an index or find-links directory, and run \`uv lock\`.`;
  }
  if (target.platform && names.length === 0 && pkg.sdist) {
    advice = `${target.id} is not this machine's platform, so the sdist cannot be built here: build the wheel on ${target.id} (or in a container of it), serve it from an index or find-links directory, or pin a version of ${pkg.name} that publishes a wheel for it.`;
  }
  if (works.length) advice += `\nPlatforms these wheels fit: ${works.join(', ')}.`;
  return new NoWheelForPlatformError(
    `${at}: no wheel of ${describe(pkg)} fits target ${target.id}. ${available}\n${advice}`,
    lockPath,
    pkg.name,
    pkg.version,
    target.id,
    names,
  );
}

/**
 * Replaces `extra == '…'` comparisons by what they are for the given extras; returns the
 * remaining marker, or a boolean when nothing else is left.
 */
export function bindExtras(m: Marker, extras: ReadonlySet<string>): Marker | boolean {
  if (m.type === 'compare') {
    const l = m.left;
    const r = m.right;
    const isExtra = (v: typeof l) => v.type === 'variable' && v.name === 'extra';
    if (!isExtra(l) && !isExtra(r)) return m;
    const other = isExtra(l) ? r : l;
    if (other.type !== 'string' || !(m.op === '==' || m.op === '===' || m.op === '!=')) return m;
    const present = extras.has(canonicalizeName(other.value));
    return m.op === '!=' ? !present : present;
  }
  const items: Marker[] = [];
  for (const item of m.items) {
    const b = bindExtras(item, extras);
    if (typeof b === 'boolean') {
      if (m.type === 'and' && !b) return false;
      if (m.type === 'or' && b) return true;
      continue;
    }
    items.push(b);
  }
  if (items.length === 0) return m.type === 'and';
  if (items.length === 1) return items[0];
  return { ...m, items };
}

/**
 * The requirements a PEX of the closure's root must declare: the `requires-dist` of the root
 * and of the first-party projects it reaches (with the extras the closure activates on them),
 * minus requirements on first-party projects. Formatted, deduplicated and sorted.
 */
export function rootRequirements(closure: Closure): string[] {
  const lock = closure.lock;
  const firstParty = lock ? lock.packages.filter(firstPartyOf(lock)) : [];
  const firstPartyNames = new Set([...closure.firstParty, ...firstParty].map((p) => p.name));
  const out = new Set<string>();
  for (const entry of closure.packages) {
    if (!entry.firstParty) continue;
    const extras = new Set(entry.extras);
    for (const text of entry.pkg.requiresDist ?? []) {
      const req = parseRequirement(text);
      if (firstPartyNames.has(canonicalizeName(req.name))) continue;
      if (req.marker) {
        const bound = bindExtras(req.marker, extras);
        if (bound === false) continue;
        if (bound === true) delete req.marker;
        else req.marker = bound;
      }
      out.add(formatRequirement(req));
    }
  }
  return [...out].sort();
}
