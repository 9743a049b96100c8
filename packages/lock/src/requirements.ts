import { canonicalizeName, evaluateMarker, formatRequirement, versionSatisfies, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import { lockClosure, type Closure } from './closure';
import { LockError } from './errors';
import type { LockedDependency, LockedPackage, Lockfile } from './types';

// Canonical names never hold spaces, so this cannot collide with a locked package.
const ROOT = 'requirements of the build';

/**
 * The packages a set of requirements selects from a lock on one target: each requirement names
 * a locked package (third-party or a workspace project), its version must satisfy the
 * requirement's specifier, and the closure follows the lock's edges from there (markers and
 * extras as for `lockClosure`). Requirements whose marker is false for the target are dropped.
 * The closure's `root` is a synthetic package without files; `packages`, `firstParty` and
 * `thirdParty` hold only locked packages.
 */
export function requirementsClosure(lock: Lockfile, requirements: readonly Requirement[], target: TargetPlatform): Closure {
  const relock = lock.format === 'poetry' ? '`poetry lock`' : '`uv lock`';
  const dependencies: LockedDependency[] = [];
  for (const req of requirements) {
    if (req.marker && !evaluateMarker(req.marker, target.markerEnvironment)) continue;
    const name = canonicalizeName(req.name);
    const text = formatRequirement(req);
    if (req.url) {
      throw new LockError(`${lock.path}: the requirement "${text}" is a direct reference; with a lock, name the locked package instead (${req.name}).`, lock.path);
    }
    const all = lock.packages.filter((p) => p.name === name);
    if (all.length === 0) {
      throw new LockError(
        `${lock.path} has no package ${name}, which the requirement "${text}" asks for. Add it to the project and run ${relock}, or drop the requirement.`,
        lock.path,
      );
    }
    const fitting = all.filter((p) => !req.specifier || (p.version !== undefined && versionSatisfies(p.version, req.specifier, { prereleases: true })));
    if (fitting.length === 0) {
      throw new LockError(
        `${lock.path} locks ${name} at ${all.map((p) => p.version ?? '(dynamic version)').join(', ')}, which does not satisfy the requirement "${text}". ` +
          `Change the requirement, or re-lock with ${relock}.`,
        lock.path,
        all[0]!.line,
      );
    }
    const dep: LockedDependency = { name, extras: req.extras.map(canonicalizeName).sort() };
    if (all.length > 1) {
      const live = fitting.filter((p) => packageFitsTarget(p, target));
      if (live.length !== 1) {
        throw new LockError(
          `${lock.path} locks ${name} ${all.length} times (${all.map((p) => p.version ?? '?').join(', ')}); the requirement "${text}" ` +
            `selects ${live.length === 0 ? 'none' : live.length} of them for ${target.id}. Pin the version you want (${name}==<version>).`,
          lock.path,
        );
      }
      dep.version = live[0]!.version;
    }
    dependencies.push(dep);
  }
  const root: LockedPackage = {
    name: ROOT,
    source: { kind: 'virtual', path: '.' },
    wheels: [],
    dependencies,
    optionalDependencies: {},
    dependencyGroups: {},
  };
  const closure = lockClosure({ ...lock, packages: [...lock.packages, root] }, ROOT, target);
  const packages = closure.packages.filter((e) => e.pkg !== root);
  return {
    root,
    packages,
    firstParty: closure.firstParty.filter((p) => p !== root),
    thirdParty: closure.thirdParty,
    lock,
  };
}

/** Whether a forked lock entry belongs to the target's resolution (no markers: always). */
function packageFitsTarget(pkg: LockedPackage, target: TargetPlatform): boolean {
  const markers = pkg.resolutionMarkers ?? [];
  return markers.length === 0 || markers.some((m) => evaluateMarker(m, target.markerEnvironment));
}
