/**
 * pex's JSON lock (`pex3 lock create`, lock styles strict, sources and universal): reading, and
 * taking the packages a set of requirements needs on one target by pex's own subsetting rules.
 *
 * The lock holds one or more locked resolves (one per `--platform` / interpreter for strict and
 * sources locks, one or more marker-split resolves for universal locks). For a target, each
 * resolve is walked from the requirements (the lock's own when none are given) along the locked
 * projects' `requires_dists` whose markers hold; a resolve fails when a required project is
 * missing, its version does not satisfy every requirement on it, its `requires_python` excludes
 * the target, or none of its files fits the target. Of the resolves that succeed, those whose
 * split marker is false for the target are dropped, and the one whose chosen files fit the target
 * best (the mean rank of their tags among the target's tags) wins.
 */
import { dirname, isAbsolute, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  canonicalizeName,
  compareVersions,
  evaluateMarker,
  formatRequirement,
  parseMarker,
  parseRequirement,
  parseWheelFilename,
  versionSatisfies,
  wheelRank,
  type Requirement,
  type TargetPlatform,
} from '@nx-pex/pep';
import type { Closure, ClosureEntry } from './closure';
import { LockError, readLockText } from './errors';
import type { LockedArtifact, LockedDependency, LockedPackage, LockedSource, Lockfile } from './types';

export type PexLockStyle = 'strict' | 'sources' | 'universal';

/** One file of a locked project, as the lock writes it. */
export interface PexLockArtifact {
  url: string;
  algorithm: string;
  hash: string;
  /** VCS artifacts: the commit the lock resolved. */
  commitId?: string;
  /** Present (true or false) only on local project directories. */
  editable?: boolean;
}

/** One entry of `locked_requirements`. */
export interface PexLockedRequirement {
  /** Canonical name. */
  name: string;
  /** The name as the lock writes it. */
  projectName: string;
  version: string;
  requiresDists: string[];
  requiresPython?: string;
  artifacts: PexLockArtifact[];
  /** 1-based line of its `project_name` key in the file, when the file has one per line. */
  line?: number;
}

/** One entry of `locked_resolves`. */
export interface PexLockedResolve {
  /** `[interpreter, abi, platform]` of the target it was locked for (strict and sources styles). */
  platformTag?: [string, string, string];
  /** Split marker of a universal resolve. */
  marker?: string;
  requirements: PexLockedRequirement[];
}

/** A pex JSON lock. */
export interface PexLock {
  /** The file's path, as given. */
  path: string;
  pexVersion: string;
  style: PexLockStyle;
  /** Interpreter constraints of a universal lock. */
  requiresPython: string[];
  /** `linux`, `mac`, `windows` for a universal lock limited to those systems (none: all). */
  targetSystems: string[];
  /** The requirements the lock was created for: what a build takes when given none. */
  requirements: string[];
  constraints: string[];
  transitive: boolean;
  excluded: string[];
  overridden: string[];
  pathMappings: Record<string, string>;
  lockedResolves: PexLockedResolve[];
}

const STYLES: readonly PexLockStyle[] = ['strict', 'sources', 'universal'];

/**
 * True when the text (or the head of it) is a pex JSON lock: a JSON object with `locked_resolves`
 * or `pex_version` (pex sorts its keys, so `locked_resolves` comes early and `pex_version` late).
 */
export function looksLikePexLock(text: string): boolean {
  return /^\s*\{/.test(text) && /"(locked_resolves|pex_version)"\s*:/.test(text);
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Lines of the n-th `"project_name"` keys, in file order (pex writes one key per line with --indent). */
function projectNameLines(text: string): number[] {
  const out: number[] = [];
  const lines = text.split('\n');
  if (lines.length < 3) return out;
  for (let i = 0; i < lines.length; i++) if (/"project_name"\s*:/.test(lines[i])) out.push(i + 1);
  return out;
}

const REMEDY = 'Fix the file, or create it again with `pex3 lock create`.';

/** Parses the text of a pex JSON lock. `path` is used in messages and kept in the result. */
export function parsePexLock(text: string, path: string): PexLock {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new LockError(`${path}: not valid JSON (${(e as Error).message}), so it is not a pex lock. ${REMEDY}`, path);
  }
  const fail = (where: string, problem: string, line?: number): never => {
    throw new LockError(`${path}${line !== undefined ? `:${line}` : ''}: ${where}: ${problem}. ${REMEDY}`, path, line);
  };
  if (!isObject(doc)) fail('top level', 'a pex lock is a JSON object');
  const top = doc as Json;
  const str = (o: Json, key: string, where: string, optional = false): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return optional ? undefined : fail(where, `"${key}" is missing`);
    if (typeof v !== 'string') return fail(where, `"${key}" must be a string, not ${JSON.stringify(v)}`);
    return v;
  };
  const strs = (o: Json, key: string, where: string): string[] => {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return fail(where, `"${key}" must be a list of strings`);
    return v as string[];
  };
  if (!Array.isArray(top.locked_resolves)) fail('top level', '"locked_resolves" is missing or not a list, so this is not a pex lock');
  const style = str(top, 'style', 'top level')!;
  if (!STYLES.includes(style as PexLockStyle)) fail('top level', `"style" is '${style}'; pex locks are ${STYLES.join(', ')}`);
  const lines = projectNameLines(text);
  let nth = 0;
  const resolves = (top.locked_resolves as unknown[]).map((r, ri): PexLockedResolve => {
    const where = `locked_resolves[${ri}]`;
    if (!isObject(r)) return fail(where, 'must be an object');
    const out: PexLockedResolve = { requirements: [] };
    const tag = r.platform_tag;
    if (tag !== undefined && tag !== null) {
      if (!Array.isArray(tag) || tag.length !== 3 || tag.some((c) => typeof c !== 'string')) fail(where, '"platform_tag" must be [interpreter, abi, platform]');
      out.platformTag = tag as [string, string, string];
    }
    const marker = str(r, 'marker', where, true);
    if (marker) {
      try {
        parseMarker(marker);
      } catch (e) {
        fail(where, `"marker" '${marker}' is not a valid marker: ${(e as Error).message}`);
      }
      out.marker = marker;
    }
    if (!Array.isArray(r.locked_requirements)) fail(where, '"locked_requirements" is missing or not a list');
    out.requirements = (r.locked_requirements as unknown[]).map((q, qi): PexLockedRequirement => {
      const line = lines[nth++];
      const at = `${where}.locked_requirements[${qi}]`;
      if (!isObject(q)) return fail(at, 'must be an object', line);
      const projectName = str(q, 'project_name', at)!;
      const version = str(q, 'version', `${at} (${projectName})`)!;
      const what = `${at} (${projectName} ${version})`;
      const requiresDists = strs(q, 'requires_dists', what);
      for (const d of requiresDists) {
        try {
          parseRequirement(d);
        } catch (e) {
          fail(what, `requires_dists entry '${d}' is not a valid requirement: ${(e as Error).message}`, line);
        }
      }
      if (!Array.isArray(q.artifacts) || q.artifacts.length === 0) fail(what, 'has no artifacts', line);
      const artifacts = (q.artifacts as unknown[]).map((a, ai): PexLockArtifact => {
        const aw = `${what} artifacts[${ai}]`;
        if (!isObject(a)) return fail(aw, 'must be an object', line);
        const art: PexLockArtifact = { url: str(a, 'url', aw)!, algorithm: str(a, 'algorithm', aw)!, hash: str(a, 'hash', aw)! };
        if (!/^[0-9a-fA-F]+$/.test(art.hash)) fail(aw, `"hash" '${art.hash}' is not hex`, line);
        const commit = str(a, 'commit_id', aw, true);
        if (commit !== undefined) art.commitId = commit;
        if (typeof a.editable === 'boolean') art.editable = a.editable;
        return art;
      });
      const req: PexLockedRequirement = { name: canonicalizeName(projectName), projectName, version, requiresDists, artifacts };
      const rp = str(q, 'requires_python', what, true);
      if (rp) req.requiresPython = rp;
      if (line !== undefined) req.line = line;
      return req;
    });
    return out;
  });
  const pathMappings = isObject(top.path_mappings) ? (top.path_mappings as Record<string, string>) : {};
  return {
    path,
    pexVersion: str(top, 'pex_version', 'top level')!,
    style: style as PexLockStyle,
    requiresPython: strs(top, 'requires_python', 'top level'),
    targetSystems: strs(top, 'target_systems', 'top level'),
    requirements: strs(top, 'requirements', 'top level'),
    constraints: strs(top, 'constraints', 'top level'),
    transitive: top.transitive !== false,
    excluded: strs(top, 'excluded', 'top level'),
    overridden: strs(top, 'overridden', 'top level'),
    pathMappings,
    lockedResolves: resolves,
  };
}

/** Reads and parses a pex JSON lock. */
export async function readPexLock(path: string): Promise<PexLock> {
  return parsePexLock(await readLockText(path), path);
}

// ---------------------------------------------------------------------------------------------
// Artifacts as LockedArtifacts

const VCS_SCHEMES = /^(git|hg|svn|bzr)\+/i;

function fileNameOfUrl(url: string): string {
  let last = url;
  try {
    last = new URL(url).pathname.split('/').pop() ?? url;
    last = decodeURIComponent(last);
  } catch {
    last = posix.basename(url);
  }
  return last;
}

function asLockedArtifact(a: PexLockArtifact): LockedArtifact {
  const alg = a.algorithm.toLowerCase();
  return { filename: fileNameOfUrl(a.url), url: a.url, sha256: alg === 'sha256' ? a.hash.toLowerCase() : '', hash: `${alg}:${a.hash.toLowerCase()}` };
}

function isLocalProject(a: PexLockArtifact): boolean {
  return a.editable !== undefined;
}

/** The locked project in the shape the other readers give. */
function asLockedPackage(q: PexLockedRequirement, lockDir: string): LockedPackage {
  const local = q.artifacts.find(isLocalProject);
  const vcs = q.artifacts.find((a) => VCS_SCHEMES.test(a.url));
  let source: LockedSource;
  if (local) {
    let dir: string;
    try {
      dir = fileURLToPath(local.url);
    } catch {
      dir = local.url;
    }
    const rel = isAbsolute(dir) ? relative(lockDir, dir).split('\\').join('/') || '.' : dir;
    source = { kind: local.editable ? 'editable' : 'directory', path: rel };
  } else if (vcs) {
    source = { kind: 'git', url: vcs.commitId ? `${vcs.url.replace(VCS_SCHEMES, '').replace(/@[^/@]*$/, '')}#${vcs.commitId}` : vcs.url };
  } else {
    source = { kind: 'registry', url: '' };
  }
  const files = q.artifacts.filter((a) => !isLocalProject(a) && !VCS_SCHEMES.test(a.url)).map(asLockedArtifact);
  const pkg: LockedPackage = {
    name: q.name,
    version: q.version,
    source,
    wheels: files.filter((f) => f.filename.endsWith('.whl')),
    dependencies: [],
    optionalDependencies: {},
    dependencyGroups: {},
    requiresDist: q.requiresDists,
  };
  const sdist = files.find((f) => !f.filename.endsWith('.whl'));
  if (sdist) pkg.sdist = sdist;
  if (q.line !== undefined) pkg.line = q.line;
  return pkg;
}

// ---------------------------------------------------------------------------------------------
// Subsetting

const SYSTEMS: Record<string, string> = { linux: 'linux', mac: 'darwin', windows: 'win32' };

/** Whether a requirement's marker holds for the target with one of `extras` active (pex evaluates each extra in turn). */
function applies(req: Requirement, target: TargetPlatform, extras: readonly string[]): boolean {
  if (!req.marker) return true;
  const each = extras.length ? extras : [''];
  return each.some((e) => evaluateMarker(req.marker!, target.markerEnvironment, e ? [e] : []));
}

interface Request {
  requirement: Requirement;
  /** Requirement strings from a root to here. */
  via: string[];
}

interface Chosen {
  req: PexLockedRequirement;
  /** 0-based rank of the chosen file among the target's tags; the sdist or a source tree ranks after every tag. */
  rank: number;
  extras: Set<string>;
}

type ResolveResult = { ok: true; chosen: Chosen[]; specificity: number; resolve: PexLockedResolve } | { ok: false; errors: string[] };

function label(r: PexLockedResolve): string {
  if (r.platformTag) return r.platformTag.join('-');
  return r.marker ? `universal (${r.marker})` : 'universal';
}

function resolveOne(lock: PexLock, resolve: PexLockedResolve, roots: readonly Requirement[], target: TargetPlatform): ResolveResult {
  const repository = new Map<string, PexLockedRequirement[]>();
  for (const q of resolve.requirements) {
    const list = repository.get(q.name);
    if (list) list.push(q);
    else repository.set(q.name, [q]);
  }
  const required = new Map<string, Request[]>();
  const extrasOf = new Map<string, Set<string>>();
  const queue: Request[] = [];
  const request = (req: Requirement, via: string[], activeExtras: readonly string[]) => {
    if (!applies(req, target, activeExtras)) return;
    queue.push({ requirement: req, via });
  };
  for (const r of roots) request(r, [formatRequirement(r)], r.extras.map(canonicalizeName));
  while (queue.length) {
    const rq = queue.shift()!;
    const name = canonicalizeName(rq.requirement.name);
    const list = required.get(name);
    if (list) list.push(rq);
    else required.set(name, [rq]);
    if (!lock.transitive) continue;
    const wanted = rq.requirement.extras.map(canonicalizeName);
    const have = extrasOf.get(name);
    if (have) {
      if (wanted.every((e) => have.has(e))) continue;
      for (const e of wanted) have.add(e);
    } else extrasOf.set(name, new Set(wanted));
    for (const q of repository.get(name) ?? []) {
      for (const d of q.requiresDists) {
        const dep = parseRequirement(d);
        request(dep, [...rq.via, d], wanted);
      }
    }
  }

  const errors: string[] = [];
  const chosen: Chosen[] = [];
  const sdistRank = target.supportedTags.length;
  for (const [name, requests] of required) {
    const vias = requests.map((r) => `via: ${r.via.join(' -> ')}`);
    const candidates = repository.get(name) ?? [];
    if (candidates.length === 0) {
      errors.push(`Dependency on ${name} (${vias.join('; ')}) not satisfied: the lock has no ${name}.`);
      continue;
    }
    const reasons: string[] = [];
    const fits: Chosen[] = [];
    for (const q of candidates) {
      const pin = `${q.name} ${q.version}`;
      if (q.requiresPython && !versionSatisfies(target.pythonVersion, q.requiresPython, { prereleases: true })) {
        reasons.push(`${pin} requires Python ${q.requiresPython}, and ${target.id} runs ${target.pythonVersion}`);
        continue;
      }
      const mismatches = requests.filter((r) => r.requirement.specifier && !versionSatisfies(q.version, r.requirement.specifier, { prereleases: true }));
      if (mismatches.length) {
        reasons.push(`${pin} does not satisfy ${mismatches.map((m) => `${m.requirement.specifier} (via: ${m.via.join(' -> ')})`).join(', ')}`);
        continue;
      }
      let best: number | undefined;
      for (const a of q.artifacts) {
        if (isLocalProject(a) || VCS_SCHEMES.test(a.url)) {
          best = best ?? sdistRank;
          continue;
        }
        const file = fileNameOfUrl(a.url);
        if (!file.endsWith('.whl')) {
          best = best === undefined ? sdistRank : Math.min(best, sdistRank);
          continue;
        }
        let rank: number | undefined;
        try {
          rank = wheelRank(parseWheelFilename(file), target);
        } catch {
          rank = undefined;
        }
        if (rank !== undefined && (best === undefined || rank < best)) best = rank;
      }
      if (best === undefined) {
        reasons.push(`${pin} has no file for ${target.id}: ${q.artifacts.map((a) => fileNameOfUrl(a.url)).join(', ')}`);
        continue;
      }
      fits.push({ req: q, rank: best, extras: extrasOf.get(name) ?? new Set() });
    }
    if (fits.length === 0) {
      errors.push(`Dependency on ${name} (${vias.join('; ')}) not satisfied:\n    ${reasons.join('\n    ')}`);
      continue;
    }
    // The highest version wins; among files of one version, the best-ranked tag.
    fits.sort((a, b) => compareVersions(b.req.version, a.req.version) || a.rank - b.rank);
    chosen.push(fits[0]!);
  }
  if (errors.length) return { ok: false, errors };
  const span = Math.max(1, target.supportedTags.length - 1);
  const specificity = chosen.length === 0 ? 0 : chosen.reduce((s, c) => s + (span - c.rank) / span, 0) / chosen.length;
  return { ok: true, chosen, specificity, resolve };
}

export interface PexLockSelectOptions {
  /** Resolve only the requirements themselves (pex's --no-transitive); default the lock's `transitive`. */
  transitive?: boolean;
}

/**
 * The packages `requirements` (the lock's own `requirements` when empty) take from a pex lock on
 * one target, by pex's subsetting rules. Returned in the shape `lockClosure` gives: local project
 * directories are first-party, the rest third-party, each with all its locked files (the build
 * picks the best wheel, or the sdist when none fits).
 */
export function pexLockClosure(lock: PexLock, requirements: readonly Requirement[], target: TargetPlatform, opts: PexLockSelectOptions = {}): Closure {
  const where = lock.path;
  if (Object.keys(lock.pathMappings).length) {
    throw new LockError(
      `${where}: the lock uses path mappings (${Object.keys(lock.pathMappings).join(', ')}), which nx-pex does not take. ` +
        'Create the lock without --path-mapping, so its local files are named by their paths.',
      where,
    );
  }
  if (lock.excluded.length || lock.overridden.length) {
    const what = [...lock.excluded.map((e) => `--exclude ${e}`), ...lock.overridden.map((o) => `--override ${o}`)];
    throw new LockError(
      `${where}: the lock was created with ${what.join(', ')}; nx-pex does not apply a pex lock's excludes and overrides. ` +
        'Create the lock without them (pin the versions you want in the requirements), or build this lock with pex.',
      where,
    );
  }
  if (lock.style === 'universal') {
    if (lock.requiresPython.length && !lock.requiresPython.some((c) => versionSatisfies(target.pythonVersion, c.replace(/^[A-Za-z]+(?=[<>=!~])/, ''), { prereleases: true }))) {
      throw new LockError(
        `${where}: target ${target.id} runs Python ${target.pythonVersion}, outside the lock's interpreter constraints (${lock.requiresPython.join(' or ')}). ` +
          'Build for an interpreter in that range, or create the lock again with an --interpreter-constraint that covers it.',
        where,
      );
    }
    const system = target.markerEnvironment.sys_platform;
    if (lock.targetSystems.length && !lock.targetSystems.some((s) => SYSTEMS[s] === system)) {
      throw new LockError(
        `${where}: the lock covers only ${lock.targetSystems.join(', ')} (--target-system), not ${target.id}. ` +
          `Create the lock again with --target-system for it, or build for a system it covers.`,
        where,
      );
    }
  }
  const rootTexts = requirements.length ? requirements.map(formatRequirement) : lock.requirements;
  const roots: Requirement[] = requirements.length ? [...requirements] : lock.requirements.map((r) => parseRequirement(r));
  const effective: PexLock = { ...lock, transitive: opts.transitive ?? lock.transitive };
  const results = lock.lockedResolves.map((r) => resolveOne(effective, r, roots, target));
  let ok = results.filter((r): r is Extract<ResolveResult, { ok: true }> => r.ok);
  if (ok.length === 0) {
    const failures = results.map((r, i) => `${label(lock.lockedResolves[i]!)}:\n  ${(r as { errors: string[] }).errors.join('\n  ')}`);
    throw new LockError(
      `${where}: the lock cannot give ${rootTexts.join(', ') || 'its requirements'} for ${target.id}:\n${failures.join('\n')}\n` +
        'Create the lock again with `pex3 lock create` covering this target (--platform, --complete-platform or --style universal), or build for a target the lock covers.',
      where,
    );
  }
  if (ok.length > 1) ok = ok.filter((r) => !r.resolve.marker || evaluateMarker(r.resolve.marker, target.markerEnvironment));
  if (ok.length === 0) {
    throw new LockError(`${where}: none of the lock's split resolves applies to ${target.id} (their markers: ${lock.lockedResolves.map((r) => r.marker ?? 'none').join('; ')}).`, where);
  }
  // The most specific resolve: the highest mean specificity (the last of equals, as a stable sort gives it).
  let best = ok[0]!;
  for (const r of ok.slice(1)) if (r.specificity >= best.specificity) best = r;

  const lockDir = dirname(lock.path);
  const asLock = pexLockAsLockfile(lock, best.resolve);
  const byReq = new Map(best.resolve.requirements.map((q, i) => [q, asLock.packages[i]!]));
  const entries: ClosureEntry[] = best.chosen
    .map((c) => {
      const pkg = byReq.get(c.req) ?? asLockedPackage(c.req, lockDir);
      return { pkg, firstParty: pkg.source.kind === 'directory' || pkg.source.kind === 'editable', extras: [...c.extras].sort() };
    })
    .sort((a, b) => (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : 0));
  const dependencies: LockedDependency[] = roots.filter((r) => applies(r, target, [])).map((r) => ({ name: canonicalizeName(r.name), extras: r.extras.map(canonicalizeName).sort() }));
  const root: LockedPackage = {
    name: 'requirements of the build',
    source: { kind: 'virtual', path: '.' },
    wheels: [],
    dependencies,
    optionalDependencies: {},
    dependencyGroups: {},
    requiresDist: rootTexts,
  };
  return {
    root,
    packages: entries,
    thirdParty: entries.filter((e) => !e.firstParty).map((e) => e.pkg),
    firstParty: entries.filter((e) => e.firstParty).map((e) => e.pkg),
    lock: asLock,
  };
}

/** One locked resolve of a pex lock (the first when not given) as a Lockfile (format `pex`). */
export function pexLockAsLockfile(lock: PexLock, resolve: PexLockedResolve | undefined = lock.lockedResolves[0]): Lockfile {
  const lockDir = dirname(lock.path);
  const packages = (resolve?.requirements ?? []).map((q) => asLockedPackage(q, lockDir));
  return {
    path: lock.path,
    format: 'pex',
    packages,
    workspaceMembers: packages.filter((p) => p.source.kind === 'directory' || p.source.kind === 'editable').map((p) => p.name).sort(),
    resolutionMarkers: resolve?.marker ? [resolve.marker] : [],
    conflicts: [],
  };
}
