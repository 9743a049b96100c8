/**
 * What a universal resolution (`nx-pex lock --universal`, as `uv pip compile --universal`) needs
 * beside the resolver: the versions of a project on any platform (all its files), the Python range
 * the lock covers, markers carried along the dependency edges (a package's marker is the `or` over
 * the paths reaching it of the `and` of the edges' markers), and the error for requirements that
 * conflict only under markers that never hold together.
 */
import {
  ALL_PYTHONS,
  MARKER_TRUE,
  andDnf,
  bindExtras,
  canonicalizeName,
  compareVersions,
  dnfPythonRange,
  formatDnf,
  formatRequirement,
  isWheelFilename,
  lowestPython,
  negateDnf,
  orDnf,
  parseWheelFilename,
  rangeIntersect,
  requiresPythonRange,
  simplifyDnf,
  type MarkerDnf,
  type PythonRange,
  type Requirement,
  type TargetPlatform,
} from '@nx-pex/pep';
import type { DistributionFile } from '@nx-pex/index';
import { allowedFormats, type FormatControl, type IndexSource, type VersionEntry } from './source';
import { filesByVersion } from './versions';

export interface UniversalOptions {
  /**
   * The Python versions the lock is for (the project's `requires-python`). Without a lower bound,
   * the target interpreter's minor version is the lowest, as `uv pip compile --universal` takes it.
   */
  requiresPython?: string;
}

/** A requirement as the resolver holds it: enough to describe it and its marker. */
interface EdgeInfo {
  req: Requirement;
  id: string;
  name: string;
  marker?: MarkerDnf;
  parent?: { name: string; version: string };
  text?: string;
}

/**
 * The resolution must be forked: resolved separately on each side of these Python versions, or
 * where `marker` holds and where it does not.
 */
export class ForkRequest extends Error {
  constructor(
    readonly at: string[],
    readonly why: string,
    readonly marker?: MarkerDnf,
  ) {
    super(`fork ${marker ? 'on a marker' : `at Python ${at.join(', ')}`}: ${why}`);
  }
}

/** The pieces of `range` between the given versions. */
export function splitRange(range: PythonRange, at: readonly string[]): PythonRange[] {
  const points = [...new Set(at)].map((v) => v.split('.').map(Number)).sort((a, b) => compareVersions(a.join('.'), b.join('.')));
  const out: PythonRange[] = [];
  let lo: number[] | undefined;
  for (const p of [...points, undefined]) {
    const piece = rangeIntersect(range, [[lo, p]]);
    if (piece.length) out.push(piece);
    lo = p;
  }
  return out;
}

const key = (d: MarkerDnf) => JSON.stringify(d.map((t) => [t.python, t.atoms.map((a) => a.text)]));

export class UniversalScope {
  /** The Python versions the lock is for. */
  readonly top: PythonRange;
  /** The Python versions this resolution (one fork) is for. */
  readonly domain: PythonRange;
  private readonly lowest: string;
  /** The marker of this fork beyond its Python versions (true when not forked on one). */
  readonly fork: MarkerDnf;
  private files = new Map<string, Map<string, DistributionFile[]>>();
  private versionCache = new Map<string, Promise<VersionEntry[]>>();
  /** Versions earlier forks chose: a later fork prefers them where they fit, as uv's forks do. */
  private preferences = new Map<string, Set<string>>();

  constructor(
    readonly options: UniversalOptions,
    target: TargetPlatform,
    private readonly source: IndexSource,
    private readonly formats: FormatControl | undefined,
    fork?: PythonRange,
    forkMarker: MarkerDnf = MARKER_TRUE,
  ) {
    this.fork = forkMarker;
    let top = requiresPythonRange(options.requiresPython);
    if (lowestPython(top) === undefined) {
      const [major, minor] = target.pythonVersion.split('.').map(Number);
      top = rangeIntersect(top, [[[major!, minor!], undefined]]);
    }
    this.top = top;
    this.domain = fork ? rangeIntersect(top, fork) : top;
    this.lowest = lowestPython(this.domain)!;
  }

  /** The same scope for one fork (sharing what was read from the indexes). */
  forFork(range: PythonRange, target: TargetPlatform, marker: MarkerDnf = this.fork): UniversalScope {
    const s = new UniversalScope(this.options, target, this.source, this.formats, range, marker);
    s.files = this.files;
    s.versionCache = this.versionCache;
    s.preferences = this.preferences;
    return s;
  }

  /** Records what a fork chose, for the forks after it. */
  prefer(name: string, version: string): void {
    let set = this.preferences.get(name);
    if (!set) this.preferences.set(name, (set = new Set()));
    set.add(version);
  }

  /** Candidates with the versions earlier forks chose first, otherwise in the given order. */
  preferred<T extends { version: string }>(name: string, candidates: T[]): T[] {
    const set = this.preferences.get(name);
    if (!set) return candidates;
    return [...candidates.filter((c) => set.has(c.version)), ...candidates.filter((c) => !set.has(c.version))];
  }

  describe(): string {
    const forked = simplifyDnf(andDnf(this.fork, [{ python: this.domain, atoms: [] }]), this.top);
    const fork = forked.length ? formatDnf(forked, this.top) : undefined;
    return (this.options.requiresPython ? `requires-python ${this.options.requiresPython}` : `Python >=${lowestPython(this.top)}`) + (fork ? `, where ${fork}` : '');
  }

  /** The Python versions where a requirement's marker holds, when it speaks of nothing else. */
  pythonOnly(dnf: MarkerDnf | undefined): PythonRange | undefined {
    if (!dnf || dnf.some((t) => t.atoms.length > 0)) return undefined;
    return rangeIntersect(dnfPythonRange(dnf), this.domain);
  }

  /** The bounds of `range` that lie strictly inside this fork's Python versions. */
  innerBounds(range: PythonRange): string[] {
    const lowest = this.domain[0]?.[0];
    const out: string[] = [];
    for (const [lo, hi] of rangeIntersect(range, this.domain)) {
      for (const b of [lo, hi]) {
        if (b === undefined) continue;
        if (lowest && compareVersions(b.join('.'), lowest.join('.')) <= 0) continue;
        if (splitRange(this.domain, [b.join('.')]).length === 2) out.push(b.join('.'));
      }
    }
    return out;
  }

  /** An edge's marker with extras decided: [] when it never holds within the domain, undefined when it always does. */
  edgeMarker(dnf: MarkerDnf, extras: readonly string[]): MarkerDnf | undefined {
    const bound = simplifyDnf(bindExtras(dnf, extras), this.domain);
    if (bound.length === 0) return [];
    if (formatDnf(bound, this.domain) === undefined) return undefined;
    if (this.fork !== MARKER_TRUE) {
      // Within a fork, an edge that cannot hold there is dropped, one that always holds there is unconditional.
      if (simplifyDnf(andDnf(bound, this.fork), this.domain).length === 0) return [];
      const not = negateDnf(bound);
      if (not && simplifyDnf(andDnf(this.fork, not), this.domain).length === 0) return undefined;
    }
    return bound;
  }

  /** The lowest Python version on which any of these requirements applies. */
  lowestPython(markers: readonly (MarkerDnf | undefined)[]): string {
    if (markers.length === 0 || markers.some((m) => m === undefined)) return this.lowest;
    const range = rangeIntersect(markers.reduce<PythonRange>((acc, m) => [...acc, ...dnfPythonRange(m!)], []), this.domain);
    return lowestPython(rangeIntersect(range.length ? range : ALL_PYTHONS, this.domain)) ?? this.lowest;
  }

  /** Every version of `name` with any file pip's format control allows, newest first. */
  versions(name: string): Promise<VersionEntry[]> {
    let p = this.versionCache.get(name);
    if (!p) this.versionCache.set(name, (p = this.load(name)));
    return p;
  }

  /** Every file of one version (none yanked unless all are), as listed. */
  filesOf(name: string, version: string): DistributionFile[] {
    return this.files.get(name)?.get(version) ?? [];
  }

  private async load(name: string): Promise<VersionEntry[]> {
    const formats = allowedFormats(name, this.formats);
    const out: VersionEntry[] = [];
    const listed = new Map<string, DistributionFile[]>();
    for (const { version, wheels: w, sdists } of filesByVersion(name, await this.source.files(name), formats)) {
      const files = [...w, ...sdists];
      const live = files.filter((f) => f.yanked === undefined);
      const usable = live.length ? live : files;
      const wheels = usable.filter((f) => f.filename.endsWith('.whl'));
      // Metadata is read from one file: a pure wheel when there is one (what any platform installs).
      const file = wheels.find((f) => /-none-any\.whl$/.test(f.filename)) ?? wheels[0] ?? usable[0]!;
      out.push({ version: isWheelFilename(file.filename) ? parseWheelFilename(file.filename).version : version, file, yanked: live.length === 0, sdist: wheels.length === 0 });
      listed.set(out[out.length - 1]!.version, [...usable].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0)));
    }
    this.files.set(name, listed);
    return out.sort((a, b) => compareVersions(b.version, a.version));
  }

  /**
   * Each package's marker: the `or` over the paths from the roots of the `and` of the edges'
   * markers. undefined: always needed; null: on no path whose markers can hold together.
   */
  packageMarkers(roots: readonly EdgeInfo[], edges: readonly { from: string; infos: readonly EdgeInfo[] }[], nameOf: (id: string) => string | undefined): Map<string, string | undefined | null> {
    const reach = new Map<string, MarkerDnf>();
    const out = new Map<string, EdgeInfo[]>();
    for (const e of edges) out.set(e.from, [...e.infos]);
    const queue: string[] = [];
    const add = (id: string, dnf: MarkerDnf) => {
      const prior = reach.get(id) ?? [];
      const next = orDnf(prior, simplifyDnf(dnf, this.domain));
      if (key(next) === key(prior)) return;
      reach.set(id, next);
      queue.push(id);
    };
    for (const r of roots) add(r.id, r.marker ?? MARKER_TRUE);
    for (let i = 0; i < queue.length; i++) {
      if (i > 200_000) throw new Error('universal markers do not settle');
      const from = queue[i]!;
      const here = reach.get(from)!;
      for (const info of out.get(from) ?? []) add(info.id, info.marker ? andDnf(here, info.marker) : here);
    }
    const byName = new Map<string, MarkerDnf>();
    for (const [id, dnf] of reach) {
      const name = nameOf(id);
      if (name !== undefined) byName.set(name, orDnf(byName.get(name) ?? [], dnf));
    }
    const markers = new Map<string, string | undefined | null>();
    for (const [name, dnf] of byName) {
      const here = simplifyDnf(andDnf(dnf, this.fork), this.domain);
      markers.set(name, here.length === 0 ? null : formatDnf(here, this.top));
    }
    return markers;
  }
}

function describeEdge(i: EdgeInfo, scope: UniversalScope): string {
  const who = i.parent ? `${i.parent.name} ${i.parent.version} requires` : 'you asked for';
  const req = formatRequirement({ ...i.req, marker: undefined });
  const marker = i.marker ? formatDnf(i.marker, scope.domain) : undefined;
  return `${who} ${req}${marker ? ` under ${marker}` : ' everywhere'}`;
}

/**
 * The message for a conflict between requirements whose markers never hold together (each would
 * be satisfiable alone, on its own environments): with `fork`, a ForkRequest on the one's marker;
 * else the message that a resolution with one version per package cannot satisfy them and a lock
 * per target can. Undefined when the conflict is of another kind.
 */
export function disjointConflict(causes: readonly EdgeInfo[], scope: UniversalScope, fork = false): string | undefined {
  for (let i = 0; i < causes.length; i++) {
    for (let j = i + 1; j < causes.length; j++) {
      const [a, b] = [causes[i]!, causes[j]!];
      if (a.name !== b.name || canonicalizeName(a.req.name) !== canonicalizeName(b.req.name)) continue;
      if (a.req.specifier === b.req.specifier && a.req.url === b.req.url) continue;
      if (simplifyDnf(andDnf(a.marker ?? MARKER_TRUE, b.marker ?? MARKER_TRUE), scope.domain).length > 0) continue;
      // As uv does: resolve where the one marker holds and where it does not, separately.
      if (fork && a.marker && negateDnf(a.marker)) {
        throw new ForkRequest([], `${formatRequirement({ ...a.req, marker: undefined })} and ${formatRequirement({ ...b.req, marker: undefined })} apply under markers that never hold together`, a.marker);
      }
      return (
        `Cannot make one universal resolution for ${scope.describe()}: ${describeEdge(a, scope)}, and ${describeEdge(b, scope)}. ` +
        `No single version of ${a.name} satisfies both, and their markers never hold together, so each environment could have its own version; ` +
        `a universal lock takes one version per package (the resolution is not forked on markers). ` +
        `Lock per target instead (nx-pex lock --python PY / --platform PLATFORM, repeatable), or narrow requires-python.`
      );
    }
  }
  return undefined;
}
