/**
 * Backtracking resolution of PEP 508 requirements, the algorithm pip uses (resolvelib): pin one
 * project at a time, chosen by pip's preference order; try its versions newest first; when a
 * project has no version left that every requirement on it accepts, go back to the most recent
 * pin that contributed to the conflict, mark that version incompatible and continue.
 *
 * A project asked for with extras (`uvicorn[standard]`) is its own node (`uvicorn[standard]`)
 * whose version depends on the same version of `uvicorn` and on the extra's dependencies.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import {
  canonicalizeName,
  compareVersions,
  evaluateMarker,
  formatRequirement,
  isValidVersion,
  isWheelFilename,
  nearestPlatforms,
  parseRequirement,
  parseSdistFilename,
  markerDnf,
  dnfIsFalse,
  formatDnf,
  orDnf,
  negateDnf,
  andDnf,
  rangeIntersect,
  requiresPythonRange,
  MARKER_TRUE,
  type MarkerDnf,
  type PythonRange,
  parseWheelFilename,
  RequirementSyntaxError,
  UserError,
  versionSatisfies,
  type Requirement,
  type TargetPlatform,
} from '@nx-pex/pep';
import { redactUrl, type DistributionFile, type IndexClient } from '@nx-pex/index';
import type { MetadataCache, WheelStore } from '@nx-pex/store';
import { IndexSource, requiresPythonHolds, type BuiltWheel, type FileMetadata, type FormatControl, type MetadataOrigin, type VersionEntry, type WheelBuilder } from './source';
import { ForkRequest, UniversalScope, disjointConflict, splitRange, type UniversalOptions } from './universal';

export interface ResolveOptions {
  client: IndexClient;
  target: TargetPlatform;
  /** Constraints (`-c` / `--constraints`): they narrow versions but add no project. */
  constraints?: readonly Requirement[];
  /** Allow pre-releases of every project (`--pre`). */
  pre?: boolean;
  formats?: FormatControl;
  /** Take only the requirements themselves, not their dependencies (`--no-transitive`). */
  noTransitive?: boolean;
  store?: WheelStore;
  buildWheel?: WheelBuilder;
  log?: (line: string) => void;
  /** Base directory for relative `file:` paths and local project directories (default: cwd). */
  cwd?: string;
  /** Give up after this many pins and backtracks (default 200000). */
  maxRounds?: number;
  /** Core metadata kept between runs (in the store), by each file's sha256. */
  metadataCache?: MetadataCache;
  /**
   * Resolve for every environment at once (`--universal`): markers are carried along the
   * dependency edges instead of being evaluated for `target` (which then only builds sdists);
   * one version per package; every file of it is listed.
   */
  universal?: UniversalOptions;
}

/** One chosen distribution. */
export interface ResolvedPackage {
  name: string;
  version: string;
  /** The file taken: a wheel from an index or find-links, or the sdist / URL it was built from. */
  file: DistributionFile;
  /** The wheel built from an sdist or a directory (already in the store). */
  built?: BuiltWheel;
  /** sha256 of `file` when the index gave none and it was downloaded to read its metadata. */
  sha256?: string;
  /** Extras asked of it. */
  extras: string[];
  /** Given as `name @ URL`, a wheel file or a directory. */
  direct: boolean;
  /** Universal resolutions: the marker under which the package is needed (undefined: always). */
  marker?: string;
  /** Universal resolutions: every file of the chosen version (wheels of all platforms, sdists). */
  files?: DistributionFile[];
  /**
   * The metadata the resolution took on the index's word (not from the file's own bytes), which
   * the build compares with the wheel's METADATA once it has the wheel.
   */
  claimed?: ClaimedMetadata;
}

/** Name, version and Requires-Dist as the resolution read them, and where from. */
export interface ClaimedMetadata {
  name?: string;
  version?: string;
  requiresDist: string[];
  from: MetadataOrigin;
}

export interface Resolution {
  /** The top-level requirements whose markers hold for the target, as pex lists them in PEX-INFO. */
  requirements: string[];
  packages: ResolvedPackage[];
}

/** No set of versions satisfies the requirements; the message explains the conflict. */
export class ResolutionImpossible extends UserError {}

/** A requirement on one node, and who asked for it (undefined: the user). */
interface Info {
  req: Requirement;
  id: string;
  name: string;
  extras: string[];
  parent?: Candidate;
  /** How the user wrote it (for messages), when a root. */
  text?: string;
  /** Universal resolutions: the edge's marker, extras decided (undefined: always). */
  marker?: MarkerDnf;
}

interface Candidate {
  id: string;
  name: string;
  extras: string[];
  version: string;
  entry: VersionEntry;
  direct: boolean;
  /** The URL of the direct reference this candidate stands for. */
  url?: string;
}

interface Criterion {
  candidates: Candidate[];
  information: Info[];
  incompatibilities: Candidate[];
}

interface State {
  mapping: Map<string, Candidate>;
  criteria: Map<string, Criterion>;
  causes: Info[];
}

/**
 * A candidate whose dependencies cannot be met: thrown and caught inside the resolver once per
 * version tried, hundreds of times when it goes back through a project's releases, so it is made
 * without the stack trace an Error records (which cost more than the rest of the try).
 */
class Conflict extends Error {
  readonly criterion: Criterion;
  constructor(criterion: Criterion) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('conflict');
    Error.stackTraceLimit = limit;
    this.criterion = criterion;
  }
}

function nodeId(name: string, extras: readonly string[]): string {
  const e = [...new Set(extras.map(canonicalizeName))].sort();
  return e.length ? `${name}[${e.join(',')}]` : name;
}

const candidateKey = (c: Candidate) => `${c.id}@${c.version}`;

function describeReq(r: Requirement): string {
  return formatRequirement({ ...r, marker: undefined });
}

function isPinned(specifier: string): boolean {
  return specifier.split(',').some((c) => c.startsWith('===') || (c.startsWith('==') && !c.endsWith('.*')));
}

function mentionsPrerelease(specifier: string): boolean {
  if (!specifier) return false;
  return specifier.split(',').some((c) => {
    const m = /^(===|~=|==|<=|>=|<|>)(.*)$/.exec(c);
    if (!m || m[1] === '!=') return false;
    const v = m[2]!.replace(/\.\*$/, '');
    return isValidVersion(v) && /(a|b|c|rc|alpha|beta|pre|preview|dev)\d*/i.test(v.split('+')[0]!.replace(/^\d+!/, '').replace(/^[\d.]+/, ''));
  });
}

// PEP 440 parsing dominates a resolution that backtracks: each (version, specifier) is decided
// once, and found again without building a key string (by specifier, then version).
const satisfiesMemo = new Map<string, Map<string, boolean>>();
let satisfiesMemoSize = 0;
function satisfies(version: string, specifier: string): boolean {
  if (!specifier) return true;
  let byVersion = satisfiesMemo.get(specifier);
  if (!byVersion) satisfiesMemo.set(specifier, (byVersion = new Map()));
  let v = byVersion.get(version);
  if (v === undefined) {
    v = versionSatisfies(version, specifier, { prereleases: true });
    if (++satisfiesMemoSize > 500_000) {
      satisfiesMemo.clear();
      satisfiesMemoSize = 0;
    }
    byVersion.set(version, v);
  }
  return v;
}

const pythonMemo = new Map<string, boolean>();
/** `requiresPythonHolds`, decided once per (specifier, version): universal resolutions ask it of every file. */
function pythonHolds(spec: string, python: string): boolean {
  const key = `${python}\u0000${spec}`;
  let v = pythonMemo.get(key);
  if (v === undefined) {
    v = requiresPythonHolds(spec, python);
    if (pythonMemo.size > 100_000) pythonMemo.clear();
    pythonMemo.set(key, v);
  }
  return v;
}

const prereleaseMemo = new Map<string, boolean>();
function isPrerelease(version: string): boolean {
  let v = prereleaseMemo.get(version);
  if (v === undefined) prereleaseMemo.set(version, (v = !versionSatisfies(version, '', { prereleases: false })));
  return v;
}

/** Resolves `requirements` (PEP 508 strings) for one target. */
export async function resolve(requirements: readonly (string | Requirement)[], options: ResolveOptions): Promise<Resolution> {
  if (options.universal) return resolveUniversal(requirements, options, options.universal);
  const resolver = new Resolver(options);
  try {
    return await resolver.run(requirements);
  } finally {
    await resolver.close();
  }
}

/**
 * A universal resolution: one resolution for every environment the lock covers, forked (as uv
 * forks) where the newest fitting version of a package needs a newer Python than the lowest in
 * scope, or where requirements conflict only under markers that never hold together; the forks'
 * packages are merged, each under the `or` of its markers in the forks that chose it.
 */
async function resolveUniversal(requirements: readonly (string | Requirement)[], options: ResolveOptions, universal: UniversalOptions): Promise<Resolution> {
  const source = newSource(options);
  const scope = new UniversalScope(universal, options.target, source, options.formats);
  const results: Resolution[] = [];
  let attempts = 0;
  const run = async (fork: PythonRange, marker: MarkerDnf, depth: number): Promise<void> => {
    if (++attempts > MAX_FORK_ATTEMPTS) {
      throw new ResolutionImpossible(`The universal resolution for ${scope.describe()} forked into more than ${MAX_FORK_ATTEMPTS} resolutions; lock per target instead (--python / --platform), or narrow requires-python.`);
    }
    const here = scope.forFork(fork, options.target, marker);
    const resolver = new Resolver(options, source, here);
    try {
      const result = await resolver.run(requirements);
      for (const p of result.packages) scope.prefer(p.name, p.version);
      results.push(result);
    } catch (e) {
      if (!(e instanceof ForkRequest)) throw e;
      const tooDeep = () => new ResolutionImpossible(`Cannot make one universal resolution for ${here.describe()}: ${e.why}, and the resolution is already forked ${depth} times. Lock per target instead (--python / --platform).`);
      if (e.marker) {
        const not = negateDnf(e.marker);
        if (depth >= MAX_FORK_DEPTH || !not) throw tooDeep();
        options.log?.(`universal resolution: forked on ${formatDnf(e.marker, here.domain) ?? 'a marker'} (${e.why})`);
        for (const m of [andDnf(marker, e.marker), andDnf(marker, not)]) if (!dnfIsFalse(m, fork)) await run(fork, m, depth + 1);
        return;
      }
      const pieces = splitRange(fork, e.at);
      if (depth >= MAX_FORK_DEPTH || pieces.length < 2) throw tooDeep();
      options.log?.(`universal resolution: forked at Python ${e.at.join(', ')} (${e.why})`);
      // Newer Pythons first, as uv orders its forks: they take the newest versions, older ones follow where they can.
      for (const piece of pieces.reverse()) await run(piece, marker, depth + 1);
    }
  };
  try {
    await run(scope.top, MARKER_TRUE, 0);
  } finally {
    await source.close();
  }
  if (results.length === 1) return results[0]!;
  const merged = new Map<string, { pkg: ResolvedPackage; marker: MarkerDnf }>();
  for (const r of results) {
    for (const p of r.packages) {
      const k = `${p.name}\u0000${p.version}\u0000${p.file.url}`;
      const m = p.marker === undefined ? MARKER_TRUE : markerDnf(p.marker);
      const prior = merged.get(k);
      if (prior) {
        prior.marker = orDnf(prior.marker, m);
        prior.pkg.extras = [...new Set([...prior.pkg.extras, ...p.extras])].sort();
      } else merged.set(k, { pkg: { ...p }, marker: m });
    }
  }
  const packages = [...merged.values()].map(({ pkg, marker }) => {
    const text = formatDnf(marker, scope.top);
    if (text === undefined) delete pkg.marker;
    else pkg.marker = text;
    return pkg;
  });
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a.version, b.version)));
  return { requirements: [...new Set(results.flatMap((r) => r.requirements))].sort(), packages };
}

/** Forks within forks, and resolutions in all, before a universal resolution gives up. */
const MAX_FORK_DEPTH = 24;
const MAX_FORK_ATTEMPTS = 256;

function newSource(options: ResolveOptions): IndexSource {
  return new IndexSource({
    client: options.client,
    target: options.target,
    formats: options.formats,
    store: options.store,
    buildWheel: options.buildWheel,
    log: options.log,
    metadataCache: options.metadataCache,
  });
}

class Resolver {
  private readonly source: IndexSource;
  private readonly env;
  private readonly python: string;
  private readonly constraints = new Map<string, Requirement[]>();
  private readonly userRequested = new Map<string, number>();
  private readonly depths = new Map<string, number>();
  private readonly depsCache = new Map<string, Promise<{ infos: Info[]; requiresPython?: string } >>();
  private readonly metadataOf = new Map<string, FileMetadata>();
  private readonly directFiles = new Map<string, { entry: VersionEntry; dir?: string }>();
  private states: State[] = [];
  private readonly speculated = new Set<string>();
  private rootInfos: Info[] = [];
  private readonly universal?: UniversalScope;

  private readonly ownsSource: boolean;

  constructor(
    readonly options: ResolveOptions,
    source?: IndexSource,
    universal?: UniversalScope,
  ) {
    this.source = source ?? newSource(options);
    this.ownsSource = source === undefined;
    this.env = options.target.markerEnvironment;
    this.python = options.target.pythonVersion;
    this.universal = universal;
    for (const c of options.constraints ?? []) {
      if (c.marker && !this.markerMayHold(c.marker)) continue;
      const name = canonicalizeName(c.name);
      this.constraints.set(name, [...(this.constraints.get(name) ?? []), c]);
    }
  }

  close(): Promise<void> {
    return this.ownsSource ? this.source.close() : Promise.resolve();
  }

  private get state(): State {
    return this.states[this.states.length - 1]!;
  }

  async run(texts: readonly (string | Requirement)[]): Promise<Resolution> {
    const roots: Info[] = [];
    for (const t of texts) {
      const req = typeof t === 'string' ? parseRoot(t) : t;
      if (req.marker && !this.markerMayHold(req.marker)) continue;
      const name = canonicalizeName(req.name);
      const info: Info = { req, id: nodeId(name, req.extras), name, extras: req.extras.map(canonicalizeName), text: typeof t === 'string' ? t : undefined };
      if (this.universal && req.marker) {
        const marker = this.universal.edgeMarker(markerDnf(req.marker), []);
        if (marker?.length === 0) continue; // never within this fork
        if (marker) info.marker = marker;
      }
      roots.push(info);
      if (!this.userRequested.has(name)) this.userRequested.set(name, this.userRequested.size);
    }
    this.rootInfos = roots;
    // As uv does: one project asked for twice, differently, under markers that never hold together is a fork.
    this.forkOnDisjointConflict(roots);
    // Every project page the roots need, fetched at once.
    void Promise.all(roots.filter((r) => !r.req.url).map((r) => this.versionsOf(r.name).catch(() => undefined)));
    this.states = [{ mapping: new Map(), criteria: new Map(), causes: [] }];
    for (const info of roots) {
      try {
        await this.addToCriteria(this.state.criteria, info);
      } catch (e) {
        if (e instanceof Conflict) {
          this.forkOnDisjointConflict(e.criterion.information);
          throw new ResolutionImpossible(await this.explain(e.criterion.information));
        }
        throw e;
      }
    }
    this.pushState();
    const maxRounds = this.options.maxRounds ?? 200_000;
    for (let round = 0; round < maxRounds; round++) {
      const unsatisfied = [...this.state.criteria.entries()].filter(([id, c]) => !this.pinSatisfies(id, c)).map(([id]) => id);
      if (unsatisfied.length === 0) return this.result();
      const id = this.choose(unsatisfied);
      const failures = await this.attemptToPin(id);
      if (failures.length > 0) {
        const causes = failures.flatMap((c) => c.information);
        const ok = await this.backjump(causes);
        if (!ok) {
          this.forkOnDisjointConflict(causes);
          throw new ResolutionImpossible(await this.explain(causes));
        }
        this.state.causes = causes;
      } else {
        this.pushState();
      }
    }
    throw new ResolutionImpossible(
      `Resolution gave up after ${maxRounds} steps without finding a set of versions; constrain the requirements (pin some of them) and try again.`,
    );
  }

  private pushState(): void {
    const s = this.state;
    this.states.push({ mapping: new Map(s.mapping), criteria: new Map(s.criteria), causes: [...s.causes] });
  }

  private pinSatisfies(id: string, criterion: Criterion): boolean {
    const pin = this.state.mapping.get(id);
    if (!pin) return false;
    return criterion.information.every((i) => this.satisfiedBy(i.req, pin));
  }

  private satisfiedBy(req: Requirement, c: Candidate): boolean {
    if (req.url) return c.url === req.url;
    return satisfies(c.version, req.specifier);
  }

  /** pip's order: direct references, then pins, then backtrack causes, depth, user order, any specifier, name. */
  private choose(ids: string[]): string {
    let best: { id: string; key: (number | string)[] } | undefined;
    for (const id of ids) {
      const infos = this.state.criteria.get(id)!.information;
      // pip's "direct": a URL, or the `name==v` an extras node asks of its own project.
      const direct = infos.some((i) => i.req.url !== undefined || (i.parent !== undefined && i.parent.extras.length > 0 && i.parent.name === i.name && i.id === i.name));
      const ops = infos.flatMap((i) => (i.req.specifier ? i.req.specifier.split(',') : []));
      const pinned = ops.some((o) => o.startsWith('=='));
      const cause = this.state.causes.some((c) => c.id === id || c.parent?.id === id);
      let depth = 1;
      if (!this.userRequested.has(id)) {
        const ds = infos.map((i) => (i.parent ? (this.depths.get(i.parent.id) ?? 1) : 0));
        depth = Math.min(...ds) + 1;
      }
      this.depths.set(id, depth);
      const order = this.userRequested.get(id) ?? Number.POSITIVE_INFINITY;
      const key: (number | string)[] = [direct ? 0 : 1, pinned ? 0 : 1, cause ? 0 : 1, depth, order, ops.length ? 0 : 1, id];
      if (!best || lessKey(key, best.key)) best = { id, key };
    }
    return best!.id;
  }

  private async attemptToPin(id: string): Promise<Criterion[]> {
    const criterion = this.state.criteria.get(id)!;
    const causes: Criterion[] = [];
    for (const [i, candidate] of criterion.candidates.entries()) {
      // When a version fails the next ones are likely tried: their metadata is fetched meanwhile.
      if (i > 0) for (const next of criterion.candidates.slice(i + 1, i + 9)) if (!next.entry.sdist && !next.direct) void this.fileMetadata(next).catch(() => undefined);
      let criteria: Map<string, Criterion>;
      try {
        criteria = await this.updatedCriteria(candidate);
      } catch (e) {
        if (e instanceof Conflict) {
          causes.push(e.criterion);
          continue;
        }
        throw e;
      }
      // Requirements on this node from the previous pin's dependencies no longer apply.
      const previous = this.state.mapping.get(id);
      if (previous) dropParent(criteria, previous);
      this.state.criteria = criteria;
      this.state.mapping.delete(id);
      this.state.mapping.set(id, candidate);
      return [];
    }
    return causes;
  }

  private async updatedCriteria(candidate: Candidate): Promise<Map<string, Criterion>> {
    const criteria = new Map(this.state.criteria);
    const { infos, requiresPython } = await this.dependencies(candidate);
    const python = this.pythonOf(this.state.criteria.get(candidate.id)?.information ?? []);
    if (requiresPython !== undefined && !requiresPythonHolds(requiresPython, python)) {
      const req: Requirement = { name: 'Python', extras: [], specifier: '' };
      throw new Conflict({
        candidates: [],
        incompatibilities: [],
        information: [{ req, id: '<python>', name: `Python ${python}`, extras: [], parent: candidate, text: `Python${requiresPython}` }],
      });
    }
    // Project pages of every new dependency, fetched together.
    void Promise.all(infos.filter((i) => !i.req.url).map((i) => this.versionsOf(i.name).catch(() => undefined)));
    for (const info of infos) await this.addToCriteria(criteria, info);
    return criteria;
  }

  private async addToCriteria(criteria: Map<string, Criterion>, info: Info): Promise<void> {
    const existing = criteria.get(info.id);
    const incompatibilities = existing ? [...existing.incompatibilities] : [];
    const information = existing ? [...existing.information, info] : [info];
    const candidates = (existing && this.narrowed(existing, info)) ?? (await this.findMatches(info.id, information, incompatibilities));
    const criterion: Criterion = { candidates, information, incompatibilities };
    if (candidates.length === 0) throw new Conflict(criterion);
    criteria.set(info.id, criterion);
    // The metadata of the version most likely to be pinned, fetched while other work goes on.
    void this.speculate(candidates[0]!, 0).catch(() => undefined);
  }

  /**
   * The candidates of `existing` that one more requirement also accepts: what findMatches gives
   * for all of them, without going through every version of the project again (the step that
   * made a backtracking resolution quadratic: each boto3 tried re-filtered every botocore).
   * Undefined when only findMatches can tell: a direct reference, a specifier that admits
   * pre-releases the others did not, or nothing left (the pre-release and yanked rules then decide).
   */
  private narrowed(existing: Criterion, info: Info): Candidate[] | undefined {
    if (info.req.url || existing.information.some((i) => i.req.url) || this.directUrlsOf(info.name).length) return undefined;
    const spec = info.req.specifier;
    if (!spec) return existing.candidates.length ? existing.candidates : undefined;
    if (mentionsPrerelease(spec)) return undefined;
    const out = existing.candidates.filter((c) => satisfies(c.version, spec));
    return out.length ? out : undefined;
  }

  /** The candidates every requirement accepts, best first. */
  private async findMatches(id: string, infos: Info[], incompatible: Candidate[]): Promise<Candidate[]> {
    const { name, extras } = infos[0]!;
    const bad = new Set(incompatible.map(candidateKey));
    const urls = [...new Set(infos.filter((i) => i.req.url).map((i) => i.req.url!))];
    const specs = [...infos.map((i) => i.req.specifier), ...(this.constraints.get(name) ?? []).map((c) => c.specifier)].filter((s) => s);
    // A direct reference on the node or on its base project decides the one candidate.
    const baseUrls = urls.length ? urls : this.directUrlsOf(name);
    let entries: { entry: VersionEntry; url?: string }[];
    if (baseUrls.length > 1) return [];
    if (baseUrls.length === 1) {
      const entry = await this.directEntry(baseUrls[0]!, name);
      entries = [{ entry, url: baseUrls[0]! }];
    } else {
      let all = await this.versionsOrFail(name, infos);
      if (this.universal) {
        // Files are listed for every Python; those of the versions the requirements can run on count.
        const python = this.pythonOf(infos);
        const newest = all.find((e) => specs.every((sp) => satisfies(e.version, sp)) && (this.options.pre || !isPrerelease(e.version)) && !e.yanked);
        all = all.filter((e) => !e.file.requiresPython || pythonHolds(e.file.requiresPython, python));
        // The newest version needs a newer Python than the lowest in scope: as uv does, resolve
        // the Python versions below and from its requires-python separately.
        if (newest && !all.includes(newest) && newest.file.requiresPython) {
          const at = this.universal.innerBounds(requiresPythonRange(newest.file.requiresPython)).slice(0, 1);
          if (at.length) throw new ForkRequest(at, `${name} ${newest.version} requires Python${newest.file.requiresPython}`);
        }
      }
      const pinned = specs.some(isPinned);
      const matching = all.filter((e) => specs.every((s) => satisfies(e.version, s)));
      let allowed = matching;
      if (!this.options.pre && !specs.some(mentionsPrerelease)) {
        const finals = matching.filter((e) => !isPrerelease(e.version));
        if (finals.length > 0) allowed = finals;
      }
      const allYanked = allowed.every((e) => e.yanked);
      allowed = allowed.filter((e) => !e.yanked || (allYanked && pinned));
      entries = allowed.map((entry) => ({ entry }));
    }
    const out: Candidate[] = [];
    for (const { entry, url } of entries) {
      const c: Candidate = { id, name, extras, version: entry.version, entry, direct: url !== undefined };
      if (url !== undefined) c.url = url;
      if (bad.has(candidateKey(c))) continue;
      if (!specs.every((s) => satisfies(c.version, s))) continue;
      out.push(c);
    }
    return this.universal ? this.universal.preferred(name, out) : out;
  }

  /**
   * Fetches, ahead of the resolution, the metadata of the version most likely to be pinned and the
   * project pages of its dependencies, and so on down the graph: the pages and metadata of a
   * resolution then arrive in parallel instead of one level of the graph at a time.
   */
  private async speculate(c: Candidate, depth: number): Promise<void> {
    if (c.entry.sdist || c.direct || depth > 12 || this.speculated.has(c.name)) return;
    this.speculated.add(c.name);
    const { metadata } = await this.fileMetadata(c);
    if (this.options.noTransitive) return;
    await Promise.all(
      metadata.requiresDist.map(async (text) => {
        let req: Requirement;
        try {
          req = parseRequirement(text);
          if (req.url || (req.marker && !this.universal && !evaluateMarker(req.marker, this.env, c.extras.length ? c.extras : []))) return;
        } catch {
          return;
        }
        const name = canonicalizeName(req.name);
        const versions = await this.versionsOf(name);
        const entry = versions.find((e) => !e.yanked && !isPrerelease(e.version) && satisfies(e.version, req.specifier));
        if (entry) await this.speculate({ id: name, name, extras: [], version: entry.version, entry, direct: false }, depth + 1);
      }),
    );
  }

  /**
   * Requirements on one package that conflict only under markers that never hold together: the
   * resolution is forked there, at Python versions (`numpy<2; python_version < "3.10"` and
   * `numpy>=2; python_version >= "3.10"`) or where one marker holds and where it does not
   * (`sys_platform == "win32"`). Returns when the conflict is of another kind.
   */
  private forkOnDisjointConflict(causes: readonly Info[]): void {
    const u = this.universal;
    if (!u) return;
    for (const a of causes) {
      for (const b of causes) {
        if (a === b || a.id !== b.id) continue;
        const ra = u.pythonOnly(a.marker);
        const rb = u.pythonOnly(b.marker);
        if (!ra || !rb || rangeIntersect(ra, rb).length > 0) continue;
        const at = u.innerBounds(ra);
        if (at.length) throw new ForkRequest(at, `${describeReq(a.req)} and ${describeReq(b.req)} apply on different Python versions`);
      }
    }
    disjointConflict(causes, u, true);
  }

  /** The versions of a project: for the target, or for any environment when universal. */
  private versionsOf(name: string): Promise<VersionEntry[]> {
    return this.universal ? this.universal.versions(name) : this.source.versions(name, compareVersions);
  }

  /** The Python version requirements are checked against: the target's, or the lowest the requirements can meet. */
  private pythonOf(infos: readonly Info[]): string {
    return this.universal ? this.universal.lowestPython(infos.map((i) => i.marker)) : this.python;
  }

  /** Whether a requirement's marker can hold: on the target, or (universal) anywhere in scope. */
  private markerMayHold(marker: NonNullable<Requirement['marker']>): boolean {
    if (!this.universal) return evaluateMarker(marker, this.env);
    return this.universal.edgeMarker(markerDnf(marker), [])?.length !== 0;
  }

  private directUrlsOf(name: string): string[] {
    return [...new Set(this.rootInfos.filter((r) => r.name === name && r.req.url).map((r) => r.req.url!))];
  }

  /**
   * The versions of a project for the target. A project the user asked for that has none is an
   * error at once (no such project, or no file fits); for a dependency it is a conflict, which
   * backtracking may get around (as pip does: an older parent may not need it).
   */
  private async versionsOrFail(name: string, infos: Info[]): Promise<VersionEntry[]> {
    const all = await this.versionsOf(name);
    if (all.length > 0 || infos.some((i) => i.parent)) return all;
    throw new UserError(await this.noVersions(name, infos));
  }

  private async noVersions(name: string, infos: Info[]): Promise<string> {
    const files = await this.source.files(name).catch(() => [] as DistributionFile[]);
    const where = this.whereLooked();
    const who = infos.map((i) => (i.parent ? `${i.parent.name} ${i.parent.version} requires ${describeReq(i.req)}` : `${i.text ?? describeReq(i.req)} was asked for`));
    if (files.length === 0) {
      return `No project named "${name}" on ${where} (${[...new Set(who)].join('; ')}). Check the name and the index (--index-url, --find-links, PIP_INDEX_URL).`;
    }
    const shown = files.slice(-8).map((f) => f.filename + (f.requiresPython ? ` (requires-python ${f.requiresPython})` : '') + (f.yanked !== undefined ? ' (yanked)' : ''));
    return (
      (this.universal
        ? `No file of ${name} on ${where} can be used for ${this.universal.describe()}`
        : `No file of ${name} on ${where} fits target ${this.options.target.id} (Python ${this.python})`) +
      `${allowedNote(name, this.options.formats)}; ${[...new Set(who)].join('; ')}. It offers ${files.length} files, among them:\n  ${shown.join('\n  ')}` +
      (this.universal ? '' : nearestNote(files.map((f) => f.filename), this.options.target))
    );
  }

  private whereLooked(): string {
    const c = this.options.client.config;
    const places = [...(c.noIndex ? [] : [c.indexUrl, ...c.extraIndexUrls]), ...c.findLinks].map(redactUrl);
    return places.length ? places.join(', ') : 'no index or find-links location (indexes are turned off)';
  }

  /** The single version a direct reference (`name @ url`, a wheel path, a directory) stands for. */
  private async directEntry(url: string, name: string): Promise<VersionEntry> {
    const known = this.directFiles.get(url);
    if (known) return known.entry;
    const filename = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    let entry: VersionEntry;
    let dir: string | undefined;
    if (url.startsWith('file:') && isDirectory(fileURLToPath(url))) {
      dir = fileURLToPath(url);
      const meta = await this.source.directoryMetadata(dir, url);
      const version = meta.metadata.version ?? meta.built?.filename.split('-')[1] ?? '0';
      entry = { version, file: { filename: dir.split('/').pop() || dir, url, source: 'a local project' }, yanked: false, sdist: true };
      this.metadataOf.set(url, meta);
    } else if (isWheelFilename(filename)) {
      const w = parseWheelFilename(filename);
      if (w.name !== name) throw new UserError(`${redactUrl(url)} is a wheel of ${w.name}, not of ${name}.`);
      entry = { version: w.version, file: { filename, url, source: 'a direct reference' }, yanked: false, sdist: false };
    } else {
      const s = parseSdistFilename(filename);
      if (!s) {
        throw new UserError(
          `${redactUrl(url)} (for ${name}) is neither a wheel, an sdist nor a local directory; nx-pex takes name @ https://…/file.whl, an sdist URL, or a file:// path.`,
        );
      }
      entry = { version: s.version, file: { filename, url, source: 'a direct reference' }, yanked: false, sdist: true };
    }
    this.directFiles.set(url, { entry, dir });
    return entry;
  }

  private async fileMetadata(c: Candidate): Promise<FileMetadata> {
    const cached = this.metadataOf.get(c.entry.file.url);
    if (cached) return cached;
    const m = await this.source.metadata(c.entry.file, c.name, c.entry.sdist);
    this.metadataOf.set(c.entry.file.url, m);
    return m;
  }

  private dependencies(c: Candidate): Promise<{ infos: Info[]; requiresPython?: string }> {
    const key = candidateKey(c);
    let p = this.depsCache.get(key);
    if (!p) {
      p = this.loadDependencies(c);
      this.depsCache.set(key, p);
    }
    return p;
  }

  private async loadDependencies(c: Candidate): Promise<{ infos: Info[]; requiresPython?: string }> {
    const infos: Info[] = [];
    if (c.extras.length) {
      // The extras node: the same version of the project itself, plus what the extras add.
      const base: Requirement = c.url !== undefined ? { name: c.name, extras: [], specifier: '', url: c.url } : { name: c.name, extras: [], specifier: `==${c.version}` };
      infos.push({ req: base, id: c.name, name: c.name, extras: [], parent: c });
    }
    const { metadata } = await this.fileMetadata(c);
    if (!c.direct) {
      // As pip does ("inconsistent version"): metadata that names another project or version than
      // the file and the index is an error, since pex's runtime would activate what the metadata says.
      const where = `${c.entry.file.filename} from ${redactUrl(c.entry.file.url)}`;
      if (metadata.name !== undefined && canonicalizeName(metadata.name) !== c.name) {
        throw new UserError(`${where} declares Name: ${metadata.name} in its metadata, not ${c.name}: the file is not what its name says. Check the index, or pick another version of ${c.name}.`);
      }
      if (metadata.version !== undefined && (!isValidVersion(metadata.version) || compareVersions(metadata.version, c.version) !== 0)) {
        throw new UserError(`${where} declares Version: ${metadata.version} in its metadata, not ${c.version}: the file is not what its name says. Check the index, or exclude it (${c.name}!=${c.version}).`);
      }
    }
    if (c.direct && metadata.version && isValidVersion(metadata.version)) c.version = metadata.version;
    if (this.options.noTransitive) return { infos: c.extras.length ? infos : [], requiresPython: metadata.requiresPython };
    const missing = c.extras.filter((e) => metadata.providesExtra.length > 0 && !metadata.providesExtra.includes(e));
    for (const e of missing) this.options.log?.(`warning: ${c.name} ${c.version} does not provide the extra '${e}'`);
    for (const text of metadata.requiresDist) {
      let req: Requirement;
      try {
        req = parseRequirement(text);
      } catch (e) {
        if (e instanceof RequirementSyntaxError) {
          // pex's runtime parses every Requires-Dist of every distribution it activates: a PEX
          // holding this one would fail at boot (InvalidMetadataError). Refused now, not then.
          throw new UserError(
            `${c.name} ${c.version} (${c.entry.file.filename} from ${redactUrl(c.entry.file.url)}) declares the dependency ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)} ` +
              `in its Requires-Dist, which is not a valid PEP 508 requirement (${e.reason}); pex's runtime would refuse to boot a PEX holding it. ` +
              `Pick another version of ${c.name} (e.g. exclude this one with ${c.name}!=${c.version}), or have its metadata fixed.`,
          );
        }
        throw e;
      }
      let marker: MarkerDnf | undefined;
      if (req.marker && this.universal) {
        marker = this.universal.edgeMarker(markerDnf(req.marker), c.extras);
        if (marker && marker.length === 0) continue;
      } else if (req.marker) {
        const holds = c.extras.length ? c.extras.some((e) => evaluateMarker(req.marker!, this.env, [e])) : evaluateMarker(req.marker, this.env, []);
        if (!holds) continue;
      } else if (this.universal && c.extras.length) {
        // Without a marker it is the project's own dependency, which its base node brings.
        continue;
      }
      const name = canonicalizeName(req.name);
      const info: Info = { req, id: nodeId(name, req.extras), name, extras: req.extras.map(canonicalizeName), parent: c };
      if (marker) info.marker = marker;
      infos.push(info);
    }
    if (this.universal) this.forkOnDisjointConflict(infos);
    return { infos, requiresPython: metadata.requiresPython };
  }

  private async backjump(causes: Info[]): Promise<boolean> {
    const incompatibleIds = new Set<string>();
    for (const c of causes) {
      if (c.parent) incompatibleIds.add(c.parent.id);
      incompatibleIds.add(c.id);
    }
    while (this.states.length >= 3) {
      this.states.pop();
      let broken: State;
      let pinned: [string, Candidate];
      for (;;) {
        const s = this.states.pop();
        const last = s ? [...s.mapping.entries()].pop() : undefined;
        if (!s || !last) return false;
        s.mapping.delete(last[0]);
        broken = s;
        pinned = last;
        const deps = (await this.dependencies(last[1])).infos.map((i) => i.id);
        if (deps.some((d) => incompatibleIds.has(d))) break;
      }
      const fromBroken: [string, Candidate[]][] = [...broken.criteria.entries()].map(([k, v]) => [k, [...v.incompatibilities]]);
      fromBroken.push([pinned[0], [pinned[1]]]);
      this.pushState();
      if (await this.patchCriteria(fromBroken)) return true;
    }
    return false;
  }

  private async patchCriteria(fromBroken: [string, Candidate[]][]): Promise<boolean> {
    for (const [id, incompatible] of fromBroken) {
      if (incompatible.length === 0) continue;
      const criterion = this.state.criteria.get(id);
      if (!criterion) continue;
      const all = uniqueCandidates([...incompatible, ...criterion.incompatibilities]);
      const candidates = await this.findMatches(id, criterion.information, all);
      if (candidates.length === 0) return false;
      this.state.criteria.set(id, { candidates, information: [...criterion.information], incompatibilities: all });
    }
    return true;
  }

  private async result(): Promise<Resolution> {
    const byName = new Map<string, ResolvedPackage>();
    for (const c of this.state.mapping.values()) {
      const meta = await this.fileMetadata(c);
      const prior = byName.get(c.name);
      if (prior) {
        prior.extras = [...new Set([...prior.extras, ...c.extras])].sort();
        continue;
      }
      const pkg: ResolvedPackage = { name: c.name, version: c.version, file: c.entry.file, extras: [...c.extras], direct: c.direct };
      if (meta.built) pkg.built = meta.built;
      if (c.entry.yanked) {
        const why = c.entry.file.yanked;
        this.options.log?.(`warning: ${c.entry.file.filename} (${c.name} ${c.version}) is yanked${typeof why === 'string' && why ? ` (${why})` : ''}; taken because it is pinned exactly.`);
      }
      if (meta.sha256) pkg.sha256 = meta.sha256;
      if (meta.from && !meta.built) pkg.claimed = { name: meta.metadata.name, version: meta.metadata.version, requiresDist: meta.metadata.requiresDist, from: meta.from };
      byName.set(c.name, pkg);
    }
    if (this.universal) {
      const edges = await Promise.all([...this.state.mapping.values()].map(async (c) => ({ from: c.id, infos: (await this.dependencies(c)).infos })));
      const markers = this.universal.packageMarkers(this.rootInfos, edges, (c) => this.state.mapping.get(c)?.name);
      for (const [name, pkg] of byName) {
        const m = markers.get(name);
        if (m === null) {
          byName.delete(name); // reached only under markers that never hold together
          continue;
        }
        if (m !== undefined) pkg.marker = m;
        if (!pkg.direct) pkg.files = this.universal.filesOf(name, pkg.version);
      }
    }
    const packages = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const requirements = [...new Set(this.rootInfos.map((i) => formatRequirement(i.req)))].sort();
    return { requirements, packages };
  }

  /** A conflict as a chain a person can read: who asks for what, and why nothing fits. */
  private async explain(causes: Info[]): Promise<string> {
    const lines: string[] = [];
    const names = [...new Set(causes.map((c) => c.name))];
    const why = (c: Candidate | undefined, seen = new Set<string>()): string => {
      if (!c) return '';
      if (seen.has(c.id)) return '';
      seen.add(c.id);
      const crit = this.findCriterion(c.id);
      const parents = (crit?.information ?? []).map((i) => i.parent).filter((p): p is Candidate => p !== undefined);
      if (!crit || parents.length === 0 || crit.information.some((i) => !i.parent)) return '';
      const p = parents[0]!;
      const up = why(p, seen);
      return `${up}${p.name} ${p.version} requires ${c.id}; `;
    };
    if (this.universal) {
      const disjoint = disjointConflict(causes, this.universal);
      if (disjoint) return disjoint;
    }
    for (const name of names) {
      const mine = causes.filter((c) => c.name === name);
      if (name.startsWith('Python ')) {
        for (const c of mine) lines.push(`${why(c.parent)}${c.parent!.name} ${c.parent!.version} requires ${c.text} (the target has ${name})`);
        continue;
      }
      const asks = mine.map((c) => {
        if (!c.parent) return `you asked for ${c.text ?? describeReq(c.req)}`;
        return `${why(c.parent)}${c.parent.name} ${c.parent.version} requires ${describeReq(c.req)}`;
      });
      const specs = [...new Set(mine.map((c) => c.req.specifier).filter((s) => s))];
      const available = await this.versionsOf(name).catch(() => [] as VersionEntry[]);
      if (available.length === 0) {
        lines.push(await this.noVersions(name, mine));
        continue;
      }
      if (available.every((e) => e.yanked)) {
        const all = available.map((e) => e.version);
        lines.push(
          `${[...new Set(asks)].join('; ')}; but all versions of ${name} are yanked: ${all.slice(0, 6).join(', ')}${all.length > 6 ? ', …' : ''}. ` +
            `A yanked version is taken only when pinned exactly (${name}==VERSION).`,
        );
        continue;
      }
      const shown = available
        .slice(0, 6)
        .map((e) => (e.yanked ? `${e.version} (yanked)` : e.version))
        .join(', ');
      lines.push(
        `${[...new Set(asks)].join('; ')}; so no version of ${name} fits` +
          (specs.length ? ` (${specs.join(' and ')})` : '') +
          ` (versions${this.universal ? '' : ' for this target'}: ${shown}${available.length > 6 ? ', …' : ''}).`,
      );
    }
    const scope = this.universal ? `every environment (${this.universal.describe()})` : `target ${this.options.target.id}`;
    return `Cannot resolve the requirements for ${scope}:\n  ${[...new Set(lines)].join('\n  ')}\nLoosen one of these requirements, or pin versions that agree.`;
  }

  private findCriterion(id: string): Criterion | undefined {
    for (let i = this.states.length - 1; i >= 0; i--) {
      const c = this.states[i]!.criteria.get(id);
      if (c) return c;
    }
    return undefined;
  }
}

function dropParent(criteria: Map<string, Criterion>, parent: Candidate): void {
  for (const [id, c] of criteria) {
    const kept = c.information.filter((i) => i.parent !== parent);
    if (kept.length !== c.information.length && kept.length > 0) criteria.set(id, { ...c, information: kept });
  }
}

function uniqueCandidates(cs: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return cs.filter((c) => {
    const k = candidateKey(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function lessKey(a: (number | string)[], b: (number | string)[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    return a[i]! < b[i]!;
  }
  return false;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function allowedNote(name: string, formats: FormatControl | undefined): string {
  const only = formats?.onlyBinary ?? [];
  const no = formats?.noBinary ?? [];
  if (only.includes(':all:') || only.map(canonicalizeName).includes(name)) return ' among its wheels (--only-binary)';
  if (no.includes(':all:') || no.map(canonicalizeName).includes(name)) return ' among its sdists (--no-binary)';
  return '';
}

/** A root requirement: PEP 508, or a path to a wheel, sdist or project directory. */
export function parseRoot(text: string, cwd = process.cwd()): Requirement {
  // As pip does: something that looks like a path or an archive and exists is that file or directory.
  if (/[\\/]/.test(text) || /\.(whl|tar\.gz|tgz|zip|tar\.bz2|tar\.xz)$/i.test(text) || text.startsWith('file:')) {
    const local = localRequirement(text, cwd);
    if (local) return local;
  }
  try {
    return parseRequirement(text);
  } catch (e) {
    if (!(e instanceof RequirementSyntaxError)) throw e;
    const local = localRequirement(text, cwd);
    if (local) return local;
    throw e;
  }
}

/** `./dist/foo-1.0-py3-none-any.whl`, `foo-1.0.tar.gz`, `.` or `path/to/project` as a requirement. */
export function localRequirement(text: string, cwd = process.cwd()): Requirement | undefined {
  const path = resolvePath(cwd, text.startsWith('file:') ? fileURLToPath(text) : text);
  const base = path.split('/').pop() ?? '';
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  const url = pathToFileURL(path).href;
  if (st.isDirectory()) return { name: directoryProjectName(path), extras: [], specifier: '', url };
  if (isWheelFilename(base)) return { name: parseWheelFilename(base).name, extras: [], specifier: '', url };
  const s = parseSdistFilename(base);
  if (s) return { name: s.name, extras: [], specifier: '', url };
  return undefined;
}

function directoryProjectName(dir: string): string {
  const pyproject = join(dir, 'pyproject.toml');
  if (existsSync(pyproject)) {
    const m = /^\s*\[project\][^[]*?^\s*name\s*=\s*["']([^"']+)["']/ms.exec(readFileSync(pyproject, 'utf8'));
    if (m) return canonicalizeName(m[1]!);
  }
  const cfg = join(dir, 'setup.cfg');
  if (existsSync(cfg)) {
    const m = /^\s*\[metadata\][^[]*?^\s*name\s*=\s*(\S+)/ms.exec(readFileSync(cfg, 'utf8'));
    if (m) return canonicalizeName(m[1]!);
  }
  const setup = join(dir, 'setup.py');
  if (existsSync(setup)) {
    const m = /\bname\s*=\s*["']([^"']+)["']/.exec(readFileSync(setup, 'utf8'));
    if (m) return canonicalizeName(m[1]!);
  }
  if (!existsSync(pyproject) && !existsSync(setup)) {
    throw new UserError(`${dir} is a directory without pyproject.toml or setup.py, so it is not a Python project to build.`);
  }
  return canonicalizeName(dir.split('/').pop() ?? 'project');
}

/** For a target no wheel fits: the platforms the offered wheels do fit, nearest first. */
function nearestNote(filenames: string[], target: TargetPlatform): string {
  const { platforms } = nearestPlatforms(filenames, target);
  return platforms.length ? `\nPick a version with a wheel for this target, or a platform these wheels fit (${platforms.join(', ')}).` : '';
}
