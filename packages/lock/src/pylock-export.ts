/**
 * One workspace project's part of a uv.lock as a PEP 751 lock: every package the project can
 * need on any platform the lock covers, each with the marker under which it is needed, as
 * `uv export --package <name> --no-dev --format pylock.toml` gives it.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import {
  canonicalizeName,
  markerPythonRange,
  markerToString,
  parseMarker,
  pythonRangeMarker,
  rangeIntersect,
  rangeUnion,
  rangeWithin,
  requiresPythonRange,
  type PythonRange,
} from '@nx-pex/pep';
import { bindExtras } from './closure';
import { LockError } from './errors';
import { PYLOCK_VERSION, formatPylock, type Pylock, type PylockPackage } from './pylock';
import { isFirstPartySource, sourceKey } from './source';
import type { LockedArtifact, LockedDependency, LockedPackage, Lockfile } from './types';

/** A marker in disjunctive normal form: an `or` of `and`s of the lock's edge markers (text). [] is false, [[]] is true. */
type Dnf = string[][];

function isSubset(a: readonly string[], b: readonly string[]): boolean {
  return a.every((x) => b.includes(x));
}

/** Adds a conjunction to a DNF, keeping it free of conjunctions implied by others. Returns whether it grew. */
function addTerm(dnf: Dnf, term: string[]): boolean {
  if (dnf.some((t) => isSubset(t, term))) return false;
  for (let i = dnf.length - 1; i >= 0; i--) if (isSubset(term, dnf[i])) dnf.splice(i, 1);
  dnf.push(term);
  return true;
}

function wrap(marker: string): string {
  return / or /i.test(marker) ? `(${marker})` : marker;
}

/**
 * The marker of a DNF, simplified the way lock tools write them: Python-version conditions of a
 * term become one interval set (intersected with requires-python, which they need not repeat),
 * terms with the same other conditions are merged, terms implied by others dropped. Undefined:
 * always needed; null: never needed within requires-python.
 */
function dnfToMarker(dnf: Dnf, domain: PythonRange): string | undefined | null {
  if (dnf.some((t) => t.length === 0)) return undefined;
  const groups: Array<{ others: string[]; py: PythonRange }> = [];
  for (const term of dnf) {
    let py = domain;
    const others: string[] = [];
    for (const atom of term) {
      const parsed = parseMarker(atom);
      const iv = markerPythonRange(parsed);
      if (iv) py = rangeIntersect(py, iv);
      else others.push(markerToString(parsed));
    }
    if (py.length === 0) continue;
    const o = [...new Set(others)].sort();
    const g = groups.find((x) => x.others.length === o.length && x.others.every((v, i) => v === o[i]));
    if (g) g.py = rangeUnion(g.py, py);
    else groups.push({ others: o, py });
  }
  if (groups.length === 0) return null;
  const kept = groups.filter(
    (b, i) => !groups.some((a, j) => j !== i && isSubset(a.others, b.others) && rangeWithin(b.py, a.py) && (a.others.length < b.others.length || j < i)),
  );
  const terms: string[] = [];
  for (const g of kept) {
    const py = pythonRangeMarker(g.py, domain, 'uv');
    const atoms = [...g.others.map(wrap), ...(py !== undefined ? [g.others.length ? wrap(py) : py] : [])];
    if (atoms.length === 0) return undefined;
    terms.push(atoms.join(' and '));
  }
  terms.sort();
  const text = terms.length === 1 ? terms[0] : terms.map((t) => (/ and /.test(t) ? `(${t})` : t)).join(' or ');
  return markerToString(parseMarker(text));
}

function describe(pkg: LockedPackage): string {
  return pkg.version !== undefined ? `${pkg.name} ${pkg.version}` : pkg.name;
}

/** What the walk starts from besides the project's dependencies: some of its dependency groups and extras. */
export interface ClosureStart {
  /** Dependency groups of the project (PEP 735; uv.lock's `[package.dev-dependencies]`). */
  groups?: string[];
  /** Extras of the project (`[project.optional-dependencies]`). */
  extras?: string[];
}

export interface UniversalEntry {
  pkg: LockedPackage;
  firstParty: boolean;
  /** The marker under which the project needs the package; undefined: always. */
  marker?: string;
}

/**
 * Every package `project` can need on any platform `lock` covers (production dependencies, no
 * extras of the project itself, no dependency groups), with the marker under which it is needed:
 * the `or` over every path from the project of the `and` of the edges' markers. Sorted by name,
 * then version; the project itself first among its peers only by name.
 */
export function universalClosure(lock: Lockfile, project: string, start: ClosureStart = {}): UniversalEntry[] {
  const name = canonicalizeName(project);
  const members = new Set(lock.workspaceMembers);
  const isFirstParty = (p: LockedPackage) => members.has(p.name) || isFirstPartySource(p.source);
  const roots = lock.packages.filter((p) => p.name === name && isFirstParty(p));
  if (roots.length !== 1) {
    const known = [...new Set(lock.packages.filter(isFirstParty).map((p) => p.name))].sort();
    throw new LockError(
      roots.length === 0
        ? `${lock.path}: project '${name}' is not in the lock${known.length ? ` (workspace projects in it: ${known.join(', ')})` : ''}. If it is a new or renamed project, run \`uv lock\`.`
        : `${lock.path}: project '${name}' appears ${roots.length} times as a workspace project. Regenerate the lock with \`uv lock\`.`,
      lock.path,
    );
  }
  const root = roots[0];
  const byName = new Map<string, LockedPackage[]>();
  for (const p of lock.packages) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const resolve = (from: LockedPackage, dep: LockedDependency): LockedPackage => {
    const c = (byName.get(dep.name) ?? []).filter(
      (p) => (dep.version === undefined || p.version === dep.version) && (dep.source === undefined || sourceKey(p.source) === dep.source),
    );
    if (c.length !== 1) {
      throw new LockError(
        `${lock.path}${from.line !== undefined ? `:${from.line}` : ''}: ${describe(from)} depends on ${dep.name}, which matches ${c.length} lock entries. Regenerate the lock with \`uv lock\`.`,
        lock.path,
        from.line,
      );
    }
    return c[0];
  };

  // Each (package, extra) node carries the DNF under which it is reached; propagate to a fixed
  // point. uv spells conflicting extras inside markers (`extra == 'extra-3-pkg-cpu'`): those are
  // decided by the extras the closure activates, so the walk repeats until that set settles.
  const walk = (activated: Set<string>) => {
    const reach = new Map<string, { pkg: LockedPackage; extra?: string; dnf: Dnf }>();
    const keyOf = (p: LockedPackage, e?: string) => `${lock.packages.indexOf(p)}\0${e ?? ''}`;
    const queue: string[] = [];
    const push = (p: LockedPackage, extra: string | undefined, term: string[]) => {
      const k = keyOf(p, extra);
      let node = reach.get(k);
      if (!node) reach.set(k, (node = { pkg: p, extra, dnf: [] }));
      if (addTerm(node.dnf, term)) queue.push(k);
    };
    const bound = new Map<string, string | boolean>();
    const bind = (marker: string): string | boolean => {
      let b = bound.get(marker);
      if (b === undefined) {
        const r = bindExtras(parseMarker(marker), activated);
        b = typeof r === 'boolean' ? r : markerToString(r);
        bound.set(marker, b);
      }
      return b;
    };
    const reachedExtras = new Set<string>();
    push(root, undefined, []);
    // A bound on the work: a lock's markers would need to be pathological to need more.
    for (let qi = 0; qi < queue.length; qi++) {
      if (qi > 1_000_000) throw new LockError(`${lock.path}: the markers of ${name}'s closure do not settle; regenerate the lock with \`uv lock\`.`, lock.path);
      const node = reach.get(queue[qi])!;
      let deps = node.extra === undefined ? node.pkg.dependencies : (node.pkg.optionalDependencies[node.extra] ?? []);
      if (node.pkg === root && node.extra === undefined && (start.groups?.length || start.extras?.length)) {
        deps = [
          ...deps,
          ...(start.groups ?? []).flatMap((g) => root.dependencyGroups[g] ?? []),
          ...(start.extras ?? []).flatMap((x) => root.optionalDependencies[x] ?? []),
        ];
      }
      for (const dep of deps) {
        const marker = dep.marker === undefined ? true : bind(dep.marker);
        if (marker === false) continue;
        const to = resolve(node.pkg, dep);
        for (const x of dep.extras) reachedExtras.add(`extra-${to.name.length}-${to.name}-${x}`);
        for (const term of node.dnf.map((t) => [...t])) {
          const next = typeof marker === 'string' && !term.includes(marker) ? [...term, marker] : term;
          push(to, undefined, next);
          for (const x of dep.extras) push(to, x, next);
        }
      }
    }
    return { reach, reachedExtras };
  };
  const activated = new Set<string>([
    `project-${root.name.length}-${root.name}`,
    ...(start.groups ?? []).map((g) => `group-${root.name.length}-${root.name}-${g}`),
    ...(start.extras ?? []).map((x) => `extra-${root.name.length}-${root.name}-${x}`),
  ]);
  let result = walk(activated);
  for (let round = 0; round < 20 && [...result.reachedExtras].some((x) => !activated.has(x)); round++) {
    for (const x of result.reachedExtras) activated.add(x);
    result = walk(activated);
  }
  const reach = result.reach;
  const byPkg = new Map<LockedPackage, Dnf>();
  for (const node of reach.values()) {
    const dnf = byPkg.get(node.pkg) ?? [];
    for (const t of node.dnf) addTerm(dnf, t);
    byPkg.set(node.pkg, dnf);
  }
  const domain = requiresPythonRange(lock.requiresPython);
  const entries: UniversalEntry[] = [];
  for (const [pkg, dnf] of byPkg) {
    const marker = dnfToMarker(dnf, domain);
    if (marker === null) continue; // needed on no Python the lock allows
    const e: UniversalEntry = { pkg, firstParty: isFirstParty(pkg) };
    if (marker !== undefined) e.marker = marker;
    entries.push(e);
  }
  return entries.sort((a, b) => cmp(a.pkg.name, b.pkg.name) || cmp(a.pkg.version ?? '', b.pkg.version ?? ''));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rel(fromDir: string, lockDir: string, path: string): string {
  const out = posix.relative(fromDir, posix.join(lockDir, path));
  return out === '' ? '.' : out;
}

function artifact(a: LockedArtifact, fromDir: string, lockDir: string): LockedArtifact {
  const out: LockedArtifact = { filename: a.filename, sha256: a.sha256 };
  if (a.hash !== undefined) out.hash = a.hash;
  if (a.url !== undefined) out.url = a.url;
  else if (a.path !== undefined) out.path = rel(fromDir, lockDir, a.path);
  if (a.size !== undefined) out.size = a.size;
  if (a.uploadTime !== undefined) out.uploadTime = a.uploadTime;
  return out;
}

export interface ProjectPylockOptions {
  /**
   * Where the pylock.toml goes and where the uv.lock is, as posix paths relative to one common
   * base (the workspace root): paths in the result are relative to `outputDir`.
   */
  outputDir: string;
  lockDir: string;
}

/** The PEP 751 lock of one workspace project, taken from a uv.lock (no header lines). */
export function projectPylock(lock: Lockfile, project: string, o: ProjectPylockOptions, start: ClosureStart = {}): Pylock {
  const fromDir = posix.normalize(o.outputDir || '.');
  const lockDir = posix.normalize(o.lockDir || '.');
  const packages: PylockPackage[] = [];
  for (const { pkg, firstParty, marker } of universalClosure(lock, project, start)) {
    // A virtual project (a workspace root without a build system) has nothing to install.
    if (pkg.source.kind === 'virtual') continue;
    const p: PylockPackage = { name: pkg.name, dependencies: [], wheels: [] };
    const s = pkg.source;
    if (firstParty && 'path' in s) {
      p.directory = { path: rel(fromDir, lockDir, s.path), editable: s.kind === 'editable' };
      if (s.kind !== 'editable') delete p.directory.editable;
    } else {
      if (pkg.version !== undefined) p.version = pkg.version;
      if (s.kind === 'registry') p.index = /^[a-z][a-z0-9+.-]*:/i.test(s.url) ? s.url : rel(fromDir, lockDir, s.url);
      if (s.kind === 'git') {
        const [url, commit] = s.url.split('#');
        p.vcs = { type: 'git', url: url.replace(/\?.*$/, ''), commitId: commit ?? '' };
        if (s.subdirectory) p.vcs.subdirectory = s.subdirectory;
      } else if (s.kind === 'path' && pkg.wheels.length === 0 && !pkg.sdist) {
        p.directory = { path: rel(fromDir, lockDir, s.path) };
      } else if ((s.kind === 'url' || s.kind === 'path') && pkg.wheels.length + (pkg.sdist ? 1 : 0) === 1) {
        // A file named directly by URL or path (a wheel or an archive) is PEP 751's `archive`.
        const file = pkg.wheels[0] ?? pkg.sdist!;
        p.archive = artifact(file, fromDir, lockDir);
        if (s.kind === 'url' && !p.archive.url) p.archive.url = s.url;
        if (s.kind === 'path') {
          delete p.archive.url;
          p.archive.path = rel(fromDir, lockDir, s.path);
        }
        if (s.kind === 'url' && s.subdirectory) p.archive.subdirectory = s.subdirectory;
        delete p.index;
      } else {
        if (pkg.sdist) p.sdist = artifact(pkg.sdist, fromDir, lockDir);
        p.wheels = pkg.wheels.map((w) => artifact(w, fromDir, lockDir));
      }
    }
    if (marker !== undefined) p.marker = marker;
    packages.push(p);
  }
  const out: Pylock = {
    path: '',
    lockVersion: PYLOCK_VERSION,
    createdBy: 'nx-pex',
    environments: [],
    extras: [],
    dependencyGroups: [],
    defaultGroups: [],
    packages,
    header: [],
  };
  if (lock.requiresPython !== undefined) out.requiresPython = lock.requiresPython;
  return out;
}

/** The first line of a generated pylock.toml; the hash is of the text below it. */
const GENERATED = /^# Generated by nx-pex from (.+?) \(sha256 ([0-9a-f]{64}) of this project's part\)\. Do not edit: run `nx sync` to refresh it\.$/;

export interface GeneratedPylockHeader {
  /** The uv.lock it was generated from, relative to the pylock's directory (posix). */
  source: string;
  /** sha256 of the body (everything after the first line) when it was written. */
  sha256: string;
}

/** The generated-by line of a pylock.toml, or undefined for a lock nx-pex did not write (a user's own). */
export function generatedPylockHeader(text: string): GeneratedPylockHeader | undefined {
  const first = text.split(/\r?\n/, 1)[0];
  const m = GENERATED.exec(first);
  return m ? { source: m[1], sha256: m[2] } : undefined;
}

/**
 * The full text of a generated per-project pylock.toml: a first line naming the uv.lock (relative
 * to the project) and the sha256 of the rest, and how to refresh it; then the lock.
 */
export function generatedPylockText(lock: Lockfile, project: string, o: ProjectPylockOptions & { lockName?: string }): string {
  const pylock = projectPylock(lock, project, o);
  pylock.header = [
    `This file lists every package ${canonicalizeName(project)} can need, on every platform the uv.lock covers.`,
    'nx-pex builds from it and Nx hashes it: a lock change rebuilds only the projects whose part of it changed.',
  ];
  const body = formatPylock(pylock);
  const lockRel = rel(posix.normalize(o.outputDir || '.'), posix.normalize(o.lockDir || '.'), o.lockName ?? 'uv.lock');
  const sha = createHash('sha256').update(body).digest('hex');
  return `# Generated by nx-pex from ${lockRel} (sha256 ${sha} of this project's part). Do not edit: run \`nx sync\` to refresh it.\n${body}`;
}

/** The first line of a pylock.toml that `nx-pex lock` (or an Nx `lock` target) wrote. */
export const LOCK_COMMAND_HEADER = 'Written by `nx-pex lock` from the indexes: run `nx-pex lock` (or `nx run <project>:lock`) again to refresh it.';

/**
 * Whether nx-pex wrote `text`: its first line is the header of `nx-pex lock` or of the per-project
 * locks `nx sync` generates. Any other pylock.toml is the user's own, which nx-pex never replaces
 * unless asked to explicitly.
 */
export function isNxPexPylock(text: string): boolean {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  return first === `# ${LOCK_COMMAND_HEADER}` || generatedPylockHeader(text) !== undefined;
}

/** sha256 of a generated pylock's text after its first line (what the first line records). */
export function generatedPylockBodyHash(text: string): string {
  const nl = text.indexOf('\n');
  return createHash('sha256').update(nl >= 0 ? text.slice(nl + 1) : '').digest('hex');
}

/** A pylock.toml that `nx-pex lock` (`nx run <project>:lock`) wrote: nx-pex made it, but not from a uv.lock. */
export function isStandaloneNxPexPylock(text: string): boolean {
  return !generatedPylockHeader(text) && /^created-by\s*=\s*["']nx-pex["']\s*$/m.test(text);
}

/** Whether `lock` holds `project` as one of its workspace's own projects (a member, or a source tree it names). */
export function lockCoversProject(lock: Lockfile, project: string): boolean {
  const name = canonicalizeName(project);
  return lock.packages.some((p) => p.name === name && (lock.workspaceMembers.includes(name) || isFirstPartySource(p.source)));
}

/**
 * The key under which the sha256 of a project's generated pylock.toml can be remembered: the
 * uv.lock's content hash, the project and where its pylock.toml goes (relative to the uv.lock).
 */
export function generatedPylockKey(uvLockSha256: string, project: string, outputDir: string): string {
  return `pylock\0${uvLockSha256}\0${canonicalizeName(project)}\0${posix.normalize(outputDir || '.')}`;
}
