/**
 * PEX-INFO `requirements` from a lock: what pex's runtime must activate at boot so that every
 * third-party package the lock selected for the target is on `sys.path`. First-party projects go
 * into the PEX as sources, not distributions, so they stand for their own dependencies: the
 * requirements are their edges to third-party packages (with the extras the lock asks of them,
 * and what a `lib[extra]` of a workspace dependency adds), as the lock records them — never the
 * static `[project] dependencies`, which miss dynamic dependencies and extras of workspace
 * dependencies. pex's runtime follows each requirement through the wheels' own metadata.
 */
import { canonicalizeName, evaluateMarker, formatRequirement, parseRequirement, UserError, type Requirement, type TargetPlatform } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';
import { bindExtras, isFirstPartySource, type Closure, type ClosureEntry, type LockedDependency } from '@nx-pex/lock';

/** uv's spelling of activated projects and extras inside conflict markers. */
const encodeProject = (pkg: string) => `project-${pkg.length}-${pkg}`;
const encodeExtra = (pkg: string, extra: string) => `extra-${pkg.length}-${pkg}-${extra}`;

/** Every first-party name of the closure's lock (a requirement on one of them is met by sources). */
function firstPartyNames(closure: Closure): Set<string> {
  const lock = closure.lock;
  const members = new Set(lock?.workspaceMembers ?? []);
  const all = lock ? lock.packages.filter((p) => members.has(p.name) || isFirstPartySource(p.source)) : [];
  return new Set([...closure.firstParty, ...all].map((p) => p.name));
}

/**
 * The requirements of one target: the roots given (pex's command-line requirements, or a poetry
 * project's main group) as written, then each first-party package's requirements: its
 * `requires-dist` as the lock records it (uv.lock `[package.metadata]`, which holds dynamic
 * dependencies too) with its extras bound, else its dependency edges that hold on the target.
 * `members` gives the specifier a project declares for an edge that has none in the lock.
 */
export function lockRequirements(closure: Closure, target: TargetPlatform, members: ReadonlyMap<string, PyProject>, roots: readonly Requirement[] = []): string[] {
  const own = firstPartyNames(closure);
  const out = new Set<string>();
  for (const r of roots) if (!own.has(canonicalizeName(r.name))) out.add(formatRequirement(r));
  const activated = [
    encodeProject(closure.root.name),
    ...closure.packages.flatMap((e) => [encodeProject(e.pkg.name), ...e.extras.map((x) => encodeExtra(e.pkg.name, x))]),
  ];
  for (const entry of closure.packages) {
    if (!entry.firstParty) continue;
    const reqs = entry.pkg.requiresDist ? declared(entry) : edges(entry, target, activated, members.get(entry.pkg.name));
    for (const r of reqs) if (!own.has(canonicalizeName(r.name))) out.add(formatRequirement(r));
  }
  return [...out].sort();
}

/** A package's `requires-dist` with the extras the closure activates on it bound (those of other extras dropped). */
function declared(entry: ClosureEntry): Requirement[] {
  const out: Requirement[] = [];
  for (const text of entry.pkg.requiresDist ?? []) {
    const req = bindRequirementExtras(parseRequirement(text), entry.extras);
    if (req) out.push(req);
  }
  return out;
}

/**
 * A requirement of a package as it stands with `extras` of that package active: `extra == "x"`
 * comparisons decided, the requirement dropped (undefined) when its marker is then false.
 */
function bindRequirementExtras(req: Requirement, extras: readonly string[]): Requirement | undefined {
  if (!req.marker) return req;
  const bound = bindExtras(req.marker, new Set(extras.map(canonicalizeName)));
  if (bound === false) return undefined;
  if (bound === true) return { ...req, marker: undefined };
  return { ...req, marker: bound };
}

/** A package's dependency edges (and those of its activated extras) that hold on the target. */
function edges(entry: ClosureEntry, target: TargetPlatform, activated: string[], project: PyProject | undefined): Requirement[] {
  const deps: LockedDependency[] = [...entry.pkg.dependencies, ...entry.extras.flatMap((x) => entry.pkg.optionalDependencies[x] ?? [])];
  const out: Requirement[] = [];
  for (const dep of deps) {
    if (dep.marker !== undefined && !holds(dep.marker, target, activated)) continue;
    const spelled = project?.dependencies.find((d) => canonicalizeName(d.name) === dep.name && !d.url);
    out.push({ name: dep.name, extras: [...dep.extras].sort(), specifier: spelled?.specifier ?? '' });
  }
  return out;
}

function holds(marker: string, target: TargetPlatform, activated: string[]): boolean {
  try {
    return evaluateMarker(marker, target.markerEnvironment, activated);
  } catch (e) {
    throw new UserError(`The lock's marker '${marker}' cannot be evaluated for ${target.id}: ${(e as Error).message}. Regenerate the lock.`);
  }
}

/**
 * For a lock without dependency edges (a PEP 751 lock written by another tool): every
 * third-party package it installs on the target, pinned, as pex's `--pylock` activates them.
 */
export function pinnedRequirements(closure: Closure): string[] {
  return closure.thirdParty.map((p) => (p.version !== undefined ? `${p.name}==${p.version}` : p.name)).sort();
}

/** `name==version` of each third-party package of a closure (what the deps layer keys on). */
export function closurePins(closure: Closure): string[] {
  return pinnedRequirements(closure);
}

/**
 * Every requirement that applies on the target must name a package the target's selection holds
 * (or a first-party one); otherwise pex's runtime would stop at boot. `lockFile` and `fix` say
 * which lock disagrees with itself and what to run.
 */
export function checkRequirementsCovered(requirements: readonly string[], closure: Closure, target: TargetPlatform, lockFile: string, fix: string): void {
  const present = new Set([...closure.thirdParty, ...closure.firstParty].map((p) => p.name));
  const own = firstPartyNames(closure);
  for (const text of requirements) {
    const req = parseRequirement(text);
    const name = canonicalizeName(req.name);
    if (present.has(name) || own.has(name)) continue;
    if (req.marker && !evaluateMarker(req.marker, target.markerEnvironment, [])) continue;
    throw new UserError(`${lockFile}: the build needs ${text} on ${target.id}, but the lock selects no ${name} for it. ${fix}`);
  }
}
