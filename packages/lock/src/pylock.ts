/**
 * PEP 751 lock files (`pylock.toml`, `pylock.<name>.toml`): reading, selecting the packages one
 * target installs, and writing.
 */
import { posix } from 'node:path';
import { canonicalizeName, evaluateMarker, parseMarker, versionSatisfies, type TargetPlatform } from '@nx-pex/pep';
import type { Closure, ClosureEntry } from './closure';
import { LockError, readLockText } from './errors';
import { isTable, parseLockToml, TableReader, type Table } from './toml-table';
import type { LockedArtifact, LockedPackage, LockedSource, Lockfile } from './types';

/** The `lock-version` this reader and writer speak; a newer minor version is read, a newer major one refused. */
export const PYLOCK_VERSION = '1.0';

/** `[packages.directory]`: a local source tree. */
export interface PylockDirectory {
  /** Relative to the lock file's directory (posix), or absolute. */
  path: string;
  editable?: boolean;
  subdirectory?: string;
}

/** `[packages.vcs]`: a version-control checkout. */
export interface PylockVcs {
  type: string;
  url?: string;
  path?: string;
  requestedRevision?: string;
  commitId: string;
  subdirectory?: string;
}

/** `[packages.archive]`: a source tree or wheel archive at a URL or path. */
export interface PylockArchive extends LockedArtifact {
  subdirectory?: string;
}

/** `[[packages.dependencies]]`: enough to tell which locked package is meant (kept for tools; installers ignore it). */
export interface PylockDependency {
  name: string;
  version?: string;
}

/** One `[[packages]]` entry. */
export interface PylockPackage {
  /** Canonical name. */
  name: string;
  version?: string;
  /** PEP 508 marker (with PEP 751's `extras` and `dependency_groups`) under which it is installed. */
  marker?: string;
  requiresPython?: string;
  dependencies: PylockDependency[];
  /** The index the package's files came from. */
  index?: string;
  wheels: LockedArtifact[];
  sdist?: LockedArtifact;
  directory?: PylockDirectory;
  vcs?: PylockVcs;
  archive?: PylockArchive;
  /** `[packages.attestation-identities]`, as written. */
  attestationIdentities?: Array<Record<string, unknown>>;
  /** `[packages.tool]`, as written. */
  tool?: Record<string, unknown>;
  /** 1-based line of the entry's `[[packages]]` header (when read from a file). */
  line?: number;
}

/** A PEP 751 lock file. */
export interface Pylock {
  /** The file's path, as given ('' for a lock not read from a file). */
  path: string;
  lockVersion: string;
  createdBy?: string;
  requiresPython?: string;
  /** Markers of the environments the lock covers (none: any). */
  environments: string[];
  /** Extras the lock can install (canonical). */
  extras: string[];
  /** Dependency groups the lock can install (canonical). */
  dependencyGroups: string[];
  /** Groups installed when none are asked for. */
  defaultGroups: string[];
  packages: PylockPackage[];
  /** Comment lines before the first key, without their `#` and one following space. */
  header: string[];
  /** Top-level `[tool]`, as written. */
  tool?: Record<string, unknown>;
}

class Ctx extends TableReader {
  protected readonly remedy = 'Fix the file, or regenerate it with the tool that wrote it.';
}

/** 1-based line numbers of the `[[packages]]` headers, in order. */
function packageHeaderLines(text: string): number[] {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) if (/^\s*\[\[\s*packages\s*\]\]\s*(#.*)?$/.test(lines[i])) out.push(i + 1);
  return out;
}

function headerComments(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) out.push(line.replace(/^\s*# ?/, ''));
    else if (line.trim() !== '') break;
  }
  return out;
}

function fileNameOf(ctx: Ctx, location: string): string {
  let last: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    try {
      last = new URL(location).pathname.split('/').pop() ?? '';
    } catch {
      ctx.fail(`'${location}' is not a valid URL`);
    }
    try {
      last = decodeURIComponent(last);
    } catch {
      /* keep as written */
    }
  } else {
    last = posix.basename(location.replace(/\\/g, '/'));
  }
  if (!last) ctx.fail(`'${location}' names no file`);
  return last;
}

function parseArtifact(ctx: Ctx, t: Table, what: 'wheel' | 'sdist' | 'archive'): PylockArchive {
  const url = ctx.str(t, 'url');
  const path = ctx.str(t, 'path');
  const name = ctx.str(t, 'name');
  if (url === undefined && path === undefined) ctx.fail(`a ${what} has neither \`url\` nor \`path\``);
  const hashes = ctx.table(t, 'hashes');
  if (!hashes || Object.keys(hashes).length === 0) ctx.fail(`a ${what} (${name ?? url ?? path}) has no \`hashes\``);
  for (const [alg, digest] of Object.entries(hashes)) {
    if (typeof digest !== 'string' || !/^[0-9a-fA-F]+$/.test(digest)) ctx.fail(`hash \`${alg}\` of ${name ?? url ?? path} must be a hex string`);
  }
  const sha256 = typeof hashes.sha256 === 'string' ? hashes.sha256.toLowerCase() : '';
  if (sha256 && sha256.length !== 64) ctx.fail(`the sha256 of ${name ?? url ?? path} is not 64 hex digits`);
  const [alg, digest] = sha256 ? ['sha256', sha256] : (Object.entries(hashes)[0] as [string, string]);
  const art: PylockArchive = { filename: name ?? fileNameOf(ctx, (url ?? path)!), sha256, hash: `${alg}:${digest.toLowerCase()}` };
  if (url !== undefined) art.url = url;
  if (path !== undefined) art.path = path.replace(/\\/g, '/');
  const size = ctx.int(t, 'size');
  if (size !== undefined) art.size = size;
  const uploaded = t['upload-time'];
  if (uploaded !== undefined) art.uploadTime = uploaded instanceof Date ? new Date(uploaded.getTime()).toISOString().replace(/\.000Z$/, 'Z') : String(uploaded);
  const sub = ctx.str(t, 'subdirectory');
  if (sub !== undefined) art.subdirectory = sub;
  if (what === 'wheel' && !art.filename.endsWith('.whl')) ctx.fail(`wheel '${art.filename}' is not a .whl file`);
  return art;
}

function checkMarker(ctx: Ctx, marker: string, what: string): void {
  try {
    parseMarker(bindLockMarker(marker, [], []));
  } catch (e) {
    ctx.fail(`${what} has an invalid marker '${marker}': ${(e as Error).message}`);
  }
}

function parsePackage(file: string, line: number | undefined, index: number, t: Table): PylockPackage {
  const pre: Ctx = new Ctx(file, line, `packages[${index}]`);
  const rawName = pre.str(t, 'name');
  if (rawName === undefined) pre.fail('`name` is missing');
  const name = canonicalizeName(rawName);
  const version = pre.str(t, 'version');
  const ctx: Ctx = new Ctx(file, line, `package '${name}${version !== undefined ? ` ${version}` : ''}'`);
  const pkg: PylockPackage = {
    name,
    dependencies: ctx.tables(t, 'dependencies').map((d) => {
      const dep: PylockDependency = { name: canonicalizeName(ctx.str(d, 'name') ?? '') };
      const v = ctx.str(d, 'version');
      if (v !== undefined) dep.version = v;
      return dep;
    }),
    wheels: ctx.tables(t, 'wheels').map((w) => parseArtifact(ctx, w, 'wheel')),
  };
  if (version !== undefined) pkg.version = version;
  if (line !== undefined) pkg.line = line;
  const marker = ctx.str(t, 'marker');
  if (marker !== undefined && marker.trim() !== '') {
    checkMarker(ctx, marker, 'the package');
    pkg.marker = marker;
  }
  const requiresPython = ctx.str(t, 'requires-python');
  if (requiresPython !== undefined) pkg.requiresPython = requiresPython;
  const idx = ctx.str(t, 'index');
  if (idx !== undefined) pkg.index = idx;
  const sdist = ctx.table(t, 'sdist');
  if (sdist) pkg.sdist = parseArtifact(ctx, sdist, 'sdist');
  const dir = ctx.table(t, 'directory');
  if (dir) {
    const path = ctx.str(dir, 'path');
    if (path === undefined) ctx.fail('`directory.path` is missing');
    pkg.directory = { path: path.replace(/\\/g, '/') };
    const editable = ctx.bool(dir, 'editable');
    if (editable !== undefined) pkg.directory.editable = editable;
    const sub = ctx.str(dir, 'subdirectory');
    if (sub !== undefined) pkg.directory.subdirectory = sub;
  }
  const vcs = ctx.table(t, 'vcs');
  if (vcs) {
    const type = ctx.str(vcs, 'type');
    const commitId = ctx.str(vcs, 'commit-id');
    if (type === undefined) ctx.fail('`vcs.type` is missing');
    if (commitId === undefined) ctx.fail('`vcs.commit-id` is missing');
    const v: PylockVcs = { type, commitId };
    const url = ctx.str(vcs, 'url');
    const path = ctx.str(vcs, 'path');
    if (url === undefined && path === undefined) ctx.fail('`vcs` has neither `url` nor `path`');
    if (url !== undefined) v.url = url;
    if (path !== undefined) v.path = path;
    const rev = ctx.str(vcs, 'requested-revision');
    if (rev !== undefined) v.requestedRevision = rev;
    const sub = ctx.str(vcs, 'subdirectory');
    if (sub !== undefined) v.subdirectory = sub;
    pkg.vcs = v;
  }
  const archive = ctx.table(t, 'archive');
  if (archive) pkg.archive = parseArtifact(ctx, archive, 'archive');
  const kinds = [pkg.wheels.length || pkg.sdist ? 'wheels/sdist' : '', dir ? 'directory' : '', vcs ? 'vcs' : '', archive ? 'archive' : ''].filter(Boolean);
  if (kinds.length === 0) ctx.fail('it has no `wheels`, `sdist`, `directory`, `vcs` or `archive`, so there is nothing to install');
  if (kinds.length > 1) ctx.fail(`it has ${kinds.join(' and ')}; PEP 751 allows one kind of source per package`);
  if ((pkg.wheels.length || pkg.sdist) && version === undefined) ctx.fail('`version` is required for a package with wheels or an sdist');
  const attestations = t['attestation-identities'];
  if (Array.isArray(attestations)) pkg.attestationIdentities = attestations.filter(isTable);
  const tool = ctx.table(t, 'tool');
  if (tool) pkg.tool = tool;
  return pkg;
}

/** Parses the text of a PEP 751 lock file. `path` is used in messages and kept in the result. */
export function parsePylock(text: string, path: string): Pylock {
  const doc = parseLockToml(text, path);
  const top: Ctx = new Ctx(path, undefined, 'top level');
  const version = top.str(doc, 'lock-version');
  if (version === undefined) top.fail('`lock-version` is missing, so this is not a PEP 751 lock');
  const m = /^(\d+)\.(\d+)$/.exec(version);
  if (!m) top.fail(`\`lock-version\` '${version}' is not of the form MAJOR.MINOR`);
  if (Number(m[1]) !== 1) {
    throw new LockError(`${path}: lock-version ${version} is not supported; this reader knows ${PYLOCK_VERSION}. Upgrade nx-pex, or write the lock with version 1.x.`, path);
  }
  const lines = packageHeaderLines(text);
  const environments = top.strArr(doc, 'environments');
  for (const env of environments) checkMarker(top, env, '`environments`');
  const lock: Pylock = {
    path,
    lockVersion: version,
    environments,
    extras: top.strArr(doc, 'extras').map(canonicalizeName),
    dependencyGroups: top.strArr(doc, 'dependency-groups').map(canonicalizeName),
    defaultGroups: top.strArr(doc, 'default-groups').map(canonicalizeName),
    packages: top.tables(doc, 'packages').map((t, i) => parsePackage(path, lines[i], i, t)),
    header: headerComments(text),
  };
  const createdBy = top.str(doc, 'created-by');
  if (createdBy !== undefined) lock.createdBy = createdBy;
  const requiresPython = top.str(doc, 'requires-python');
  if (requiresPython !== undefined) lock.requiresPython = requiresPython;
  const tool = top.table(doc, 'tool');
  if (tool) lock.tool = tool;
  for (const g of lock.defaultGroups) {
    if (!lock.dependencyGroups.includes(g)) top.fail(`\`default-groups\` names '${g}', which is not in \`dependency-groups\``);
  }
  return lock;
}

/** Reads and parses a PEP 751 lock file. */
export async function readPylock(path: string): Promise<Pylock> {
  return parsePylock(await readLockText(path), path);
}

/** True for a PEP 751 file name: `pylock.toml` or `pylock.<name>.toml`. */
export function isPylockFileName(name: string): boolean {
  return /^pylock(\.[^./\\]+)?\.toml$/.test(posix.basename(name.replace(/\\/g, '/')));
}

// Canonical names hold only [a-z0-9-], so these prefixes cannot collide with a real extra.
const EXTRA_PREFIX = 'pylock-extra@';
const GROUP_PREFIX = 'pylock-group@';

/**
 * PEP 751 markers may test `'name' in extras` and `'name' in dependency_groups`; this rewrites
 * them to `extra == '…'` comparisons, so that a PEP 508 evaluator given `markerExtras(extras,
 * groups)` decides them.
 */
export function bindLockMarker(marker: string, _extras: readonly string[], _groups: readonly string[]): string {
  return marker.replace(
    /(['"])([^'"]*)\1\s+(not\s+in|in)\s+(extras|dependency_groups)\b/g,
    (_m, _q, name: string, op: string, set: string) =>
      `extra ${/^not/.test(op) ? '!=' : '=='} "${set === 'extras' ? EXTRA_PREFIX : GROUP_PREFIX}${canonicalizeName(name)}"`,
  );
}

function markerExtras(extras: readonly string[], groups: readonly string[]): string[] {
  return [...extras.map((e) => EXTRA_PREFIX + e), ...groups.map((g) => GROUP_PREFIX + g)];
}

/** Whether a PEP 751 marker holds on a target for the chosen extras and dependency groups. */
export function evaluateLockMarker(marker: string, target: TargetPlatform, extras: readonly string[] = [], groups: readonly string[] = []): boolean {
  return evaluateMarker(bindLockMarker(marker, extras, groups), target.markerEnvironment, markerExtras(extras, groups));
}

export interface PylockSelectOptions {
  /** Extras to install (must be listed in the lock's `extras`). */
  extras?: string[];
  /** Dependency groups to install; default the lock's `default-groups`. */
  groups?: string[];
  /** The project the lock is for: its `directory` entry becomes the closure's root. */
  project?: string;
}

function describe(p: PylockPackage): string {
  return p.version !== undefined ? `${p.name} ${p.version}` : p.name;
}

/** A pylock entry in the shape the uv.lock reader gives, so wheel selection and fetching treat both alike. */
export function pylockPackageToLocked(p: PylockPackage): LockedPackage {
  let source: LockedSource;
  if (p.directory) {
    const path = p.directory.subdirectory ? posix.join(p.directory.path, p.directory.subdirectory) : p.directory.path;
    source = { kind: p.directory.editable ? 'editable' : 'directory', path: posix.normalize(path) };
  } else if (p.vcs) {
    source = p.vcs.url
      ? { kind: 'git', url: `${p.vcs.url}#${p.vcs.commitId}`, ...(p.vcs.subdirectory ? { subdirectory: p.vcs.subdirectory } : {}) }
      : { kind: 'path', path: p.vcs.path! };
  } else if (p.archive) {
    source = p.archive.url ? { kind: 'url', url: p.archive.url } : { kind: 'path', path: p.archive.path! };
  } else {
    source = { kind: 'registry', url: p.index ?? '' };
  }
  const out: LockedPackage = {
    name: p.name,
    source,
    wheels: p.wheels,
    dependencies: p.dependencies.map((d) => ({ name: d.name, extras: [], ...(d.version !== undefined ? { version: d.version } : {}) })),
    optionalDependencies: {},
    dependencyGroups: {},
  };
  if (p.version !== undefined) out.version = p.version;
  if (p.sdist) out.sdist = p.sdist;
  else if (p.archive && !p.archive.filename.endsWith('.whl')) out.sdist = p.archive;
  if (p.archive && p.archive.filename.endsWith('.whl')) out.wheels = [...out.wheels, p.archive];
  if (p.line !== undefined) out.line = p.line;
  return out;
}

/** A pylock seen as a Lockfile (format `pylock`); its `directory` packages stand for workspace members. */
export function pylockAsLockfile(lock: Pylock): Lockfile {
  const packages = lock.packages.map(pylockPackageToLocked);
  const out: Lockfile = {
    path: lock.path,
    format: 'pylock',
    packages,
    workspaceMembers: [...new Set(lock.packages.filter((p) => p.directory).map((p) => p.name))].sort(),
    resolutionMarkers: [],
    conflicts: [],
  };
  if (lock.requiresPython !== undefined) out.requiresPython = lock.requiresPython;
  return out;
}

/**
 * The packages a PEP 751 lock installs on one target: every package whose marker holds for the
 * target with the chosen extras and dependency groups (PEP 751's installer rule; dependency
 * entries are not followed). Returned in the shape `lockClosure` gives for a uv.lock, so the
 * build treats both alike: `directory` packages are first-party, the others third-party.
 */
export function pylockClosure(lock: Pylock, target: TargetPlatform, opts: PylockSelectOptions = {}): Closure {
  const where = lock.path || 'pylock.toml';
  if (lock.requiresPython && !versionSatisfies(target.pythonVersion, lock.requiresPython, { prereleases: true })) {
    throw new LockError(
      `${where}: target ${target.id} runs Python ${target.pythonVersion}, outside the lock's requires-python '${lock.requiresPython}'. ` +
        `Choose a target interpreter within that range, or regenerate the lock for it.`,
      lock.path,
    );
  }
  if (lock.environments.length && !lock.environments.some((m) => evaluateLockMarker(m, target))) {
    throw new LockError(
      `${where}: the lock does not cover target ${target.id}: none of its environments holds (${lock.environments.join('; ')}). ` +
        `Regenerate the lock for this platform, or build for one it covers.`,
      lock.path,
    );
  }
  const extras = [...new Set((opts.extras ?? []).map(canonicalizeName))].sort();
  const groups = [...new Set((opts.groups ?? lock.defaultGroups).map(canonicalizeName))].sort();
  const unknownExtras = extras.filter((e) => !lock.extras.includes(e));
  if (unknownExtras.length) {
    throw new LockError(
      `${where}: the lock has no extra ${unknownExtras.map((e) => `'${e}'`).join(', ')} (it lists: ${lock.extras.join(', ') || 'none'}).`,
      lock.path,
    );
  }
  const unknownGroups = groups.filter((g) => !lock.dependencyGroups.includes(g));
  if (unknownGroups.length) {
    throw new LockError(
      `${where}: the lock has no dependency group ${unknownGroups.map((g) => `'${g}'`).join(', ')} (it lists: ${lock.dependencyGroups.join(', ') || 'none'}).`,
      lock.path,
    );
  }
  const chosen = new Map<string, PylockPackage>();
  for (const p of lock.packages) {
    if (p.marker !== undefined) {
      let holds: boolean;
      try {
        holds = evaluateLockMarker(p.marker, target, extras, groups);
      } catch (e) {
        throw new LockError(
          `${where}${p.line !== undefined ? `:${p.line}` : ''}: cannot evaluate the marker '${p.marker}' of ${describe(p)} for ${target.id}: ${(e as Error).message}`,
          lock.path,
          p.line,
        );
      }
      if (!holds) continue;
    }
    const prior = chosen.get(p.name);
    if (prior) {
      throw new LockError(
        `${where}${p.line !== undefined ? `:${p.line}` : ''}: for ${target.id} the lock installs ${p.name} twice (${describe(prior)} at line ${prior.line ?? '?'} and ${describe(p)}); ` +
          `their markers overlap. Regenerate the lock.`,
        lock.path,
        p.line,
      );
    }
    chosen.set(p.name, p);
  }
  const asLock = pylockAsLockfile(lock);
  const locked = new Map(lock.packages.map((p, i) => [p, asLock.packages[i]]));
  const entries: ClosureEntry[] = [...chosen.values()]
    .map((p) => ({ pkg: locked.get(p)!, firstParty: p.directory !== undefined, extras: [] as string[] }))
    .sort((a, b) => (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : 0));
  let root: LockedPackage | undefined;
  if (opts.project !== undefined) {
    const name = canonicalizeName(opts.project);
    root = entries.find((e) => e.firstParty && e.pkg.name === name)?.pkg;
  }
  if (!root) {
    root = { name: opts.project !== undefined ? canonicalizeName(opts.project) : 'requirements of the build', source: { kind: 'virtual', path: '.' }, wheels: [], dependencies: [], optionalDependencies: {}, dependencyGroups: {} };
  }
  return {
    root,
    packages: entries,
    thirdParty: entries.filter((e) => !e.firstParty).map((e) => e.pkg),
    firstParty: entries.filter((e) => e.firstParty).map((e) => e.pkg),
    lock: asLock,
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

function q(s: string): string {
  return JSON.stringify(s);
}

function inlineArtifact(a: PylockArchive): string {
  const parts: string[] = [];
  const fromLocation = a.url !== undefined || a.path !== undefined;
  const derived = fromLocation ? a.url !== undefined ? safeName(a.url) : posix.basename(a.path!) : undefined;
  if (derived !== a.filename) parts.push(`name = ${q(a.filename)}`);
  if (a.url !== undefined) parts.push(`url = ${q(a.url)}`);
  if (a.path !== undefined) parts.push(`path = ${q(a.path)}`);
  if (a.uploadTime !== undefined) parts.push(`upload-time = ${formatDateTime(a.uploadTime)}`);
  if (a.size !== undefined) parts.push(`size = ${a.size}`);
  if (a.subdirectory !== undefined) parts.push(`subdirectory = ${q(a.subdirectory)}`);
  const [alg, digest] = a.sha256 ? ['sha256', a.sha256] : (a.hash ?? ':').split(':');
  parts.push(`hashes = { ${alg} = ${q(digest)} }`);
  return `{ ${parts.join(', ')} }`;
}

function safeName(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return undefined;
  }
}

/** TOML offset date-time (UTC) for an upload time. A value that is not a date is written as a string. */
function formatDateTime(value: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return q(value);
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

function strArray(values: readonly string[]): string {
  return `[${values.map(q).join(', ')}]`;
}

/**
 * A PEP 751 lock as TOML text: the header comment lines, the top-level keys, then one
 * `[[packages]]` table per package in the given order, files as inline tables (as uv writes them).
 */
export function formatPylock(lock: Omit<Pylock, 'path'>): string {
  const out: string[] = lock.header.map((l) => (l ? `# ${l}` : '#'));
  out.push(`lock-version = ${q(lock.lockVersion)}`);
  if (lock.environments.length) out.push(`environments = ${strArray(lock.environments)}`);
  if (lock.requiresPython !== undefined) out.push(`requires-python = ${q(lock.requiresPython)}`);
  if (lock.extras.length) out.push(`extras = ${strArray(lock.extras)}`);
  if (lock.dependencyGroups.length) out.push(`dependency-groups = ${strArray(lock.dependencyGroups)}`);
  if (lock.defaultGroups.length) out.push(`default-groups = ${strArray(lock.defaultGroups)}`);
  if (lock.createdBy !== undefined) out.push(`created-by = ${q(lock.createdBy)}`);
  for (const p of lock.packages) {
    out.push('', '[[packages]]', `name = ${q(p.name)}`);
    if (p.version !== undefined) out.push(`version = ${q(p.version)}`);
    if (p.marker !== undefined) out.push(`marker = ${q(p.marker)}`);
    if (p.requiresPython !== undefined) out.push(`requires-python = ${q(p.requiresPython)}`);
    if (p.dependencies.length) {
      const deps = p.dependencies.map((d) => `{ name = ${q(d.name)}${d.version !== undefined ? `, version = ${q(d.version)}` : ''} }`);
      out.push(`dependencies = [${deps.join(', ')}]`);
    }
    if (p.index !== undefined) out.push(`index = ${q(p.index)}`);
    if (p.directory) {
      const d = p.directory;
      out.push(`directory = { path = ${q(d.path)}${d.editable !== undefined ? `, editable = ${d.editable}` : ''}${d.subdirectory !== undefined ? `, subdirectory = ${q(d.subdirectory)}` : ''} }`);
    }
    if (p.vcs) {
      const v = p.vcs;
      const parts = [`type = ${q(v.type)}`];
      if (v.url !== undefined) parts.push(`url = ${q(v.url)}`);
      if (v.path !== undefined) parts.push(`path = ${q(v.path)}`);
      if (v.requestedRevision !== undefined) parts.push(`requested-revision = ${q(v.requestedRevision)}`);
      parts.push(`commit-id = ${q(v.commitId)}`);
      if (v.subdirectory !== undefined) parts.push(`subdirectory = ${q(v.subdirectory)}`);
      out.push(`vcs = { ${parts.join(', ')} }`);
    }
    if (p.archive) out.push(`archive = ${inlineArtifact(p.archive)}`);
    if (p.sdist) out.push(`sdist = ${inlineArtifact(p.sdist)}`);
    if (p.wheels.length === 1) out.push(`wheels = [${inlineArtifact(p.wheels[0])}]`);
    else if (p.wheels.length > 1) out.push('wheels = [', ...p.wheels.map((w) => `    ${inlineArtifact(w)},`), ']');
  }
  return `${out.join('\n')}\n`;
}
