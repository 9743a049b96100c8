/**
 * poetry.lock (lock-version 2.0 and 2.1, written by Poetry 1.x and 2.x). It records each file by
 * name and sha256 only, so a file's URL comes from the package's index (`[package.source]`, else
 * PyPI) when it is fetched, matched by file name and verified by sha256. The lock has no entry
 * for the project itself: the project's own requirements (read from its pyproject.toml) select
 * their packages from it, and the lock's dependency edges, with their markers, lead from there.
 */
import { readFile } from 'node:fs/promises';
import { canonicalizeName, parseMarker, parseRequirement, poetryConstraintToPep440, versionSatisfies } from '@nx-pex/pep';
import { LockError } from './errors';
import { isTable, lockShapeError, parseLockToml, type Table } from './toml-table';
import type { LockedArtifact, LockedDependency, LockedPackage, LockedSource, Lockfile } from './types';

/** The lock versions this reader understands. */
export const POETRY_LOCK_VERSIONS = ['1.1', '2.0', '2.1'] as const;

export const PYPI_SIMPLE = 'https://pypi.org/simple';

/** 1-based line numbers of the `[[package]]` headers, in order. */
function packageHeaderLines(text: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((l, i) => {
    if (/^\s*\[\[\s*package\s*\]\]/.test(l)) out.push(i + 1);
  });
  return out;
}

/** Poetry's `python = "..."` dependency field as a marker on python_version. */
function pythonMarker(constraint: string): string | undefined {
  const spec = poetryConstraintToPep440(constraint);
  if (!spec) return undefined;
  return spec
    .split(',')
    .map((s) => {
      const m = /^(===|==|!=|<=|>=|~=|<|>)(.+)$/.exec(s)!;
      const full = m[2]!.split('.').length > 2 && !m[2]!.endsWith('*');
      return `${full ? 'python_full_version' : 'python_version'} ${m[1]} "${m[2]}"`;
    })
    .join(' and ');
}

function andMarkers(...markers: Array<string | undefined>): string | undefined {
  const present = markers.filter((m): m is string => !!m && m.trim() !== '');
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return present.map((m) => `(${m})`).join(' and ');
}

interface Ctx {
  file: string;
  line?: number;
  where: string;
}

function fail(ctx: Ctx, problem: string): never {
  throw lockShapeError(ctx.file, ctx.line, ctx.where, problem, 'Regenerate the lock with `poetry lock`.');
}

function str(ctx: Ctx, t: Table, key: string, required = false): string | undefined {
  const v = t[key];
  if (v === undefined) {
    if (required) fail(ctx, `\`${key}\` is missing`);
    return undefined;
  }
  if (typeof v !== 'string') fail(ctx, `\`${key}\` must be a string`);
  return v;
}

function checkMarker(ctx: Ctx, marker: string | undefined, what: string): string | undefined {
  if (marker === undefined) return undefined;
  try {
    parseMarker(marker);
  } catch (e) {
    fail(ctx, `the marker of ${what} does not parse (${(e as Error).message.split('\n')[0]})`);
  }
  return marker;
}

/** One `[package.dependencies]` entry (a constraint string, a table, or an array of tables) as edges. */
function dependencyEntries(ctx: Ctx, name: string, value: unknown): Array<{ dep: LockedDependency; optional: boolean; constraint?: string }> {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (typeof item === 'string') return { dep: { name: canonicalizeName(name), extras: [] }, optional: false, constraint: item };
    if (!isTable(item)) fail(ctx, `the dependency on ${name} must be a string or a table`);
    const extrasRaw = item.extras ?? [];
    if (!Array.isArray(extrasRaw) || extrasRaw.some((e) => typeof e !== 'string')) fail(ctx, `the extras of the dependency on ${name} must be strings`);
    const markers = typeof item.markers === 'string' ? item.markers : undefined;
    const python = typeof item.python === 'string' ? pythonMarker(item.python) : undefined;
    const platform = typeof item.platform === 'string' ? `sys_platform == "${item.platform}"` : undefined;
    const marker = checkMarker(ctx, andMarkers(markers, python, platform), `the dependency on ${name}`);
    const dep: LockedDependency = { name: canonicalizeName(name), extras: (extrasRaw as string[]).map(canonicalizeName).sort() };
    if (marker) dep.marker = marker;
    return { dep, optional: item.optional === true, constraint: typeof item.version === 'string' ? item.version : undefined };
  });
}

function source(ctx: Ctx, t: Table): LockedSource {
  const s = t.source;
  if (s === undefined) return { kind: 'registry', url: PYPI_SIMPLE };
  if (!isTable(s)) fail(ctx, '`source` must be a table');
  const type = str(ctx, s, 'type', true)!;
  const url = str(ctx, s, 'url') ?? '';
  switch (type) {
    case 'legacy':
      return { kind: 'registry', url };
    case 'git':
      return { kind: 'git', url: `${url}${typeof s.resolved_reference === 'string' ? `#${s.resolved_reference}` : ''}`, subdirectory: str(ctx, s, 'subdirectory') };
    case 'url':
      return { kind: 'url', url, subdirectory: str(ctx, s, 'subdirectory') };
    case 'directory':
      return { kind: 'directory', path: url.replace(/\\/g, '/') };
    case 'file':
      return { kind: 'path', path: url.replace(/\\/g, '/') };
    default:
      return fail(ctx, `the source type "${type}" is not one Poetry writes (legacy, git, url, directory, file)`);
  }
}

/** Parses the text of a poetry.lock; `path` is used for messages. */
export function parsePoetryLock(text: string, path: string): Lockfile {
  const doc = parseLockToml(text, path, 'Fix the file by hand or regenerate it with `poetry lock`.');
  const metadata = doc.metadata;
  if (!isTable(metadata)) {
    throw new LockError(`${path}: no [metadata] table, so this is not a poetry.lock. Regenerate it with \`poetry lock\`.`, path);
  }
  const version = metadata['lock-version'];
  if (typeof version !== 'string' || !(POETRY_LOCK_VERSIONS as readonly string[]).includes(version)) {
    throw new LockError(
      `${path}: lock-version ${JSON.stringify(version)} is not one nx-pex reads (${POETRY_LOCK_VERSIONS.join(', ')}). ` +
        'Regenerate the lock with a Poetry release that writes one of those (Poetry 1.x writes 2.0, Poetry 2.x writes 2.1).',
      path,
    );
  }
  const lines = packageHeaderLines(text);
  const rawPackages = doc.package ?? [];
  if (!Array.isArray(rawPackages)) throw new LockError(`${path}: \`package\` must be an array of tables. Regenerate the lock with \`poetry lock\`.`, path);

  const packages: LockedPackage[] = [];
  const pending: Array<{ pkg: LockedPackage; edges: ReturnType<typeof dependencyEntries>; extras: Table; ctx: Ctx }> = [];
  rawPackages.forEach((raw, i) => {
    const ctx: Ctx = { file: path, line: lines[i], where: `package #${i + 1}` };
    if (!isTable(raw)) fail(ctx, 'must be a table');
    const name = str(ctx, raw, 'name', true)!;
    const ver = str(ctx, raw, 'version', true)!;
    ctx.where = `package '${name} ${ver}'`;
    const pkg: LockedPackage = {
      name: canonicalizeName(name),
      version: ver,
      source: source(ctx, raw),
      wheels: [],
      dependencies: [],
      optionalDependencies: {},
      dependencyGroups: {},
    };
    if (ctx.line !== undefined) pkg.line = ctx.line;
    const files = raw.files ?? [];
    if (!Array.isArray(files)) fail(ctx, '`files` must be an array');
    for (const f of files as unknown[]) {
      if (!isTable(f)) fail(ctx, 'each entry of `files` must be a table');
      const filename = str(ctx, f, 'file', true)!;
      if (filename.includes('/') || filename.includes('\\')) fail(ctx, `the file name "${filename}" is a path`);
      const hash = str(ctx, f, 'hash', true)!;
      const m = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(hash);
      if (!m) fail(ctx, `the hash "${hash}" of ${filename} is not <algorithm>:<hex>`);
      const artifact: LockedArtifact = { filename, sha256: m![1] === 'sha256' ? m![2]!.toLowerCase() : '', hash };
      if (filename.endsWith('.whl')) pkg.wheels.push(artifact);
      else if (!pkg.sdist) pkg.sdist = artifact;
    }
    const deps = raw.dependencies ?? {};
    if (!isTable(deps)) fail(ctx, '`dependencies` must be a table');
    const edges = Object.entries(deps).flatMap(([n, v]) => dependencyEntries(ctx, n, v));
    const extras = raw.extras ?? {};
    if (!isTable(extras)) fail(ctx, '`extras` must be a table');
    pkg.providesExtras = Object.keys(extras).map(canonicalizeName).sort();
    packages.push(pkg);
    pending.push({ pkg, edges, extras, ctx });
  });

  // Edges to a name locked at several versions (markers split them) carry the version they mean.
  const versions = new Map<string, LockedPackage[]>();
  for (const p of packages) versions.set(p.name, [...(versions.get(p.name) ?? []), p]);
  const pinVersion = (e: { dep: LockedDependency; constraint?: string }) => {
    const candidates = versions.get(e.dep.name) ?? [];
    if (candidates.length < 2 || e.constraint === undefined) return;
    const spec = poetryConstraintToPep440(e.constraint);
    if (spec === undefined) return;
    const fit = candidates.filter((c) => !spec || versionSatisfies(c.version!, spec, { prereleases: true }));
    if (fit.length === 1) e.dep.version = fit[0]!.version;
  };

  for (const { pkg, edges, extras, ctx } of pending) {
    for (const e of edges) pinVersion(e);
    pkg.dependencies = edges.filter((e) => !e.optional).map((e) => e.dep);
    for (const [extra, list] of Object.entries(extras)) {
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) fail(ctx, `the extra "${extra}" must be an array of strings`);
      const deps: LockedDependency[] = [];
      for (const text of list as string[]) {
        // "Sphinx (>=7.4,<8.0)", "uvloop (>=0.14.0,!=0.15.0) ; sys_platform != \"win32\"", "httptools[speedups]".
        const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(\([^)]*\))?\s*(?:;\s*(.*))?$/.exec(text);
        if (!m) fail(ctx, `the extra "${extra}" lists "${text}", which is not a dependency`);
        const name = canonicalizeName(m![1]!);
        const own = edges.filter((e) => e.dep.name === name);
        const requested = m![2] ? m![2]!.slice(1, -1).split(',').map((x) => canonicalizeName(x.trim())).filter(Boolean) : [];
        for (const e of own.length ? own : [{ dep: { name, extras: [] } as LockedDependency }]) {
          const dep: LockedDependency = { ...e.dep, extras: [...new Set([...e.dep.extras, ...requested])].sort() };
          const marker = andMarkers(e.dep.marker, m![4] ? checkMarker(ctx, m![4], `"${text}" in the extra "${extra}"`) : undefined);
          if (marker) dep.marker = marker;
          else delete dep.marker;
          deps.push(dep);
        }
      }
      pkg.optionalDependencies[canonicalizeName(extra)] = deps;
    }
  }

  const requiresPython = typeof metadata['python-versions'] === 'string' ? poetryConstraintToPep440(metadata['python-versions']) : undefined;
  return {
    path,
    format: 'poetry',
    requiresPython: requiresPython || undefined,
    packages,
    workspaceMembers: [],
    resolutionMarkers: [],
    conflicts: [],
  };
}

/** Reads and parses a poetry.lock. */
export async function readPoetryLock(path: string): Promise<Lockfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new LockError(`Cannot read the lock file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, path);
  }
  return parsePoetryLock(text, path);
}

/** Poetry's dependency groups of a project: `main` from `[project] dependencies` or `[tool.poetry.dependencies]`, the others from `[tool.poetry.group.<name>.dependencies]` and `[dependency-groups]`. */
export function poetryGroupRequirements(pyproject: Table, groups: readonly string[]): string[] {
  const out: string[] = [];
  const tool = isTable(pyproject.tool) ? pyproject.tool : {};
  const poetry = isTable(tool.poetry) ? tool.poetry : {};
  const fromTable = (t: unknown) => {
    if (!isTable(t)) return;
    for (const [name, value] of Object.entries(t)) {
      if (name.toLowerCase() === 'python') continue;
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        const spec = typeof item === 'string' ? item : isTable(item) && typeof item.version === 'string' ? item.version : '*';
        if (isTable(item) && item.optional === true) continue;
        const extras = isTable(item) && Array.isArray(item.extras) ? `[${(item.extras as string[]).join(',')}]` : '';
        const pep = poetryConstraintToPep440(spec) ?? '';
        const markers = isTable(item) ? andMarkers(typeof item.markers === 'string' ? item.markers : undefined, typeof item.python === 'string' ? pythonMarker(item.python) : undefined) : undefined;
        out.push(`${name}${extras}${pep}${markers ? ` ; ${markers}` : ''}`);
      }
    }
  };
  for (const group of groups) {
    if (group === 'main') {
      const project = isTable(pyproject.project) ? pyproject.project : undefined;
      if (project && Array.isArray(project.dependencies)) out.push(...(project.dependencies as string[]));
      else fromTable(poetry.dependencies);
      continue;
    }
    const g = isTable(poetry.group) ? poetry.group[group] : undefined;
    if (isTable(g)) fromTable(g.dependencies);
    const pep735 = isTable(pyproject['dependency-groups']) ? pyproject['dependency-groups'][group] : undefined;
    if (Array.isArray(pep735)) out.push(...pep735.filter((x): x is string => typeof x === 'string'));
  }
  // Validate once here, so a bad entry is named by its text.
  for (const r of out) parseRequirement(r);
  return out;
}
