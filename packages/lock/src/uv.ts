import { posix } from 'node:path';
import { canonicalizeName, formatRequirement, lastParsePerFile, parseMarker, Requirement, UserError } from '@nx-pex/pep';
import { LockError, readLockText } from './errors';
import { isTable, parseLockToml, TableReader, type Table } from './toml-table';
import type { ConflictItem, LockedArtifact, LockedDependency, LockedPackage, LockedSource, Lockfile } from './types';
import { sourceKey } from './source';

/** The uv.lock schema version this reader understands (uv rejects other versions too). */
export const UV_LOCK_VERSION = 1;
/**
 * Revisions are backwards-compatible additions within a schema version (uv's own
 * policy: older readers accept newer revisions), so every revision of version 1 is read.
 */

class Ctx extends TableReader {
  protected readonly remedy = 'The lock file looks damaged; regenerate it with `uv lock`.';
}

/** 1-based line numbers of the `[[package]]` headers, in order (uv also accepted `[[distribution]]`). */
function packageHeaderLines(text: string): number[] {
  const lines: number[] = [];
  const all = text.split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    if (/^\s*\[\[\s*(package|distribution)\s*\]\]\s*(#.*)?$/.test(all[i])) lines.push(i + 1);
  }
  return lines;
}

function parseSource(ctx: Ctx, t: Table | undefined): LockedSource {
  if (!t) ctx.fail('`source` is missing');
  const keys = Object.keys(t);
  const pick = (k: string) => ctx.reqStr(t, k);
  if ('registry' in t) return { kind: 'registry', url: pick('registry') };
  if ('git' in t) return { kind: 'git', url: pick('git') };
  if ('url' in t) {
    const subdirectory = ctx.str(t, 'subdirectory');
    return subdirectory !== undefined ? { kind: 'url', url: pick('url'), subdirectory } : { kind: 'url', url: pick('url') };
  }
  for (const kind of ['editable', 'virtual', 'directory', 'path'] as const) {
    if (kind in t) return { kind, path: toPosix(pick(kind)) };
  }
  return ctx.fail(`unknown source kind (${keys.join(', ') || 'empty table'}); this reader knows registry, git, url, path, directory, editable and virtual`);
}

function toPosix(p: string): string {
  return p.replace(/\\/g, '/');
}

function sha256Of(hash: string | undefined): string {
  if (!hash) return '';
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(hash);
  return m ? m[1].toLowerCase() : '';
}

function checkHash(ctx: Ctx, hash: string | undefined): void {
  if (hash !== undefined && !/^[a-z0-9]+:[0-9a-fA-F]+$/.test(hash)) ctx.fail(`hash '${hash}' is not of the form '<algorithm>:<hex digest>'`);
}

function urlFilename(ctx: Ctx, url: string): string {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    ctx.fail(`'${url}' is not a valid URL`);
  }
  const last = pathname.split('/').pop() ?? '';
  if (!last) ctx.fail(`URL '${url}' has no file name`);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function joinRel(...parts: string[]): string {
  return posix.normalize(posix.join(...parts.map(toPosix)));
}

function parseArtifact(ctx: Ctx, t: Table, source: LockedSource, what: 'wheel' | 'sdist'): LockedArtifact {
  const url = ctx.str(t, 'url');
  const relPath = ctx.str(t, 'path');
  const given = ctx.str(t, 'filename');
  const hash = ctx.str(t, 'hash');
  checkHash(ctx, hash);
  const size = ctx.int(t, 'size');
  const uploadTime = t['upload-time'] ?? t['upload_time'];
  const art: LockedArtifact = { filename: '', sha256: sha256Of(hash) };
  if (url !== undefined) {
    art.url = url;
    art.filename = given ?? urlFilename(ctx, url);
  } else if (relPath !== undefined) {
    // A file of a local index: relative to the index directory, itself relative to the lock.
    art.path = source.kind === 'registry' ? joinRel(source.url, relPath) : joinRel(relPath);
    art.filename = given ?? posix.basename(toPosix(relPath));
  } else if (source.kind === 'path') {
    // A wheel or archive referenced directly by path: the file is the source itself.
    art.path = source.path;
    art.filename = given ?? posix.basename(source.path);
  } else if (given !== undefined) {
    art.filename = given;
  } else if (what === 'sdist') {
    // Git and directory sources carry only sdist metadata (hash/size), never a file to fetch.
    art.filename = '';
  } else {
    ctx.fail(`a wheel entry has no \`url\`, \`path\` or \`filename\``);
  }
  if (hash !== undefined) art.hash = hash;
  if (size !== undefined) art.size = size;
  if (uploadTime !== undefined) art.uploadTime = uploadTime instanceof Date ? uploadTime.toISOString() : String(uploadTime);
  if (what === 'wheel' && !art.filename.endsWith('.whl')) ctx.fail(`wheel entry '${art.filename}' is not a .whl file`);
  // The name becomes a file name (`.deps/<wheel>` in a PEX): a path is not a file name.
  if (art.filename && (/[/\\\0]/.test(art.filename) || art.filename.startsWith('.'))) {
    ctx.fail(`${what} file name ${JSON.stringify(art.filename)} is not a file name (it holds a path separator or NUL, or starts with '.')`);
  }
  return art;
}

function parseDependency(ctx: Ctx, t: Table): LockedDependency {
  const name = canonicalizeName(ctx.reqStr(t, 'name'));
  const dep: LockedDependency = { name, extras: ctx.strArr(t, 'extra').map(canonicalizeName) };
  const version = ctx.str(t, 'version');
  if (version !== undefined) dep.version = version;
  const source = ctx.table(t, 'source');
  if (source) dep.source = sourceKey(parseSource(ctx, source));
  const marker = ctx.str(t, 'marker');
  if (marker !== undefined && marker.trim() !== '') {
    try {
      parseMarker(marker);
    } catch (e) {
      ctx.fail(`dependency '${name}' has an invalid marker: ${(e as Error).message}`);
    }
    dep.marker = marker;
  }
  return dep;
}

function parseDependencyMap(ctx: Ctx, t: Table | undefined, key: string): Record<string, LockedDependency[]> {
  const out: Record<string, LockedDependency[]> = {};
  if (!t) return out;
  for (const [k, v] of Object.entries(t)) {
    if (!Array.isArray(v)) ctx.fail(`\`${key}.${k}\` must be an array of tables`);
    out[canonicalizeName(k)] = v.map((d) => {
      if (!isTable(d)) ctx.fail(`\`${key}.${k}\` must be an array of tables`);
      return parseDependency(ctx, d);
    });
  }
  return out;
}

/**
 * uv writes `requires-dist` as tables (`{ name, specifier, marker, extras, url | git | path | … }`);
 * this turns one into a PEP 508 string. Local paths (path, directory, editable) cannot be written
 * as portable PEP 508 URLs, so those requirements keep only their name, extras and marker.
 */
function requiresDistEntry(ctx: Ctx, t: Table): string {
  const name = ctx.reqStr(t, 'name');
  const req: Requirement = { name, extras: ctx.strArr(t, 'extras'), specifier: ctx.str(t, 'specifier') ?? '' };
  const url = ctx.str(t, 'url');
  const git = ctx.str(t, 'git');
  if (url !== undefined) req.url = url;
  else if (git !== undefined) req.url = gitRequirementUrl(git, ctx.str(t, 'subdirectory'));
  if (req.url !== undefined) req.specifier = '';
  const marker = ctx.str(t, 'marker');
  if (marker !== undefined && marker.trim() !== '') {
    try {
      req.marker = parseMarker(marker);
    } catch (e) {
      ctx.fail(`requires-dist entry '${name}' has an invalid marker: ${(e as Error).message}`);
    }
  }
  try {
    return formatRequirement(req);
  } catch (e) {
    if (e instanceof UserError) ctx.fail(`requires-dist entry '${name}' is invalid: ${e.message}`);
    throw e;
  }
}

/** uv records git requirements as `<repo>?rev=<ref>&…`; PEP 508 spells them `git+<repo>@<ref>`. */
function gitRequirementUrl(git: string, subdirectory: string | undefined): string {
  let base = git;
  let rev: string | undefined;
  let sub = subdirectory;
  const q = git.indexOf('?');
  if (q >= 0) {
    base = git.slice(0, q);
    const params = new URLSearchParams(git.slice(q + 1).split('#')[0]);
    rev = params.get('rev') ?? params.get('tag') ?? params.get('branch') ?? undefined;
    sub = sub ?? params.get('subdirectory') ?? undefined;
  }
  let out = `git+${base}${rev ? `@${rev}` : ''}`;
  if (sub) out += `#subdirectory=${sub}`;
  return out;
}

function parseConflicts(ctx: Ctx, v: unknown): ConflictItem[][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) ctx.fail('`conflicts` must be an array of arrays');
  return v.map((set) => {
    if (!Array.isArray(set)) ctx.fail('`conflicts` must be an array of arrays');
    return set.map((item) => {
      if (!isTable(item)) ctx.fail('`conflicts` items must be tables');
      const out: ConflictItem = { package: canonicalizeName(ctx.reqStr(item, 'package')) };
      const extra = ctx.str(item, 'extra');
      const group = ctx.str(item, 'group');
      if (extra !== undefined) out.extra = canonicalizeName(extra);
      if (group !== undefined) out.group = canonicalizeName(group);
      return out;
    });
  });
}

function parsePackage(file: string, line: number | undefined, index: number, t: Table): LockedPackage {
  const pre = new Ctx(file, line, `package #${index + 1}`);
  const rawName = pre.reqStr(t, 'name');
  const name = canonicalizeName(rawName);
  const version = pre.str(t, 'version');
  const ctx = new Ctx(file, line, `package '${name}${version !== undefined ? ` ${version}` : ''}'`);
  const source = parseSource(ctx, ctx.table(t, 'source'));
  const pkg: LockedPackage = {
    name,
    source,
    wheels: ctx.tables(t, 'wheels').map((w) => parseArtifact(ctx, w, source, 'wheel')),
    dependencies: ctx.tables(t, 'dependencies').map((d) => parseDependency(ctx, d)),
    optionalDependencies: parseDependencyMap(ctx, ctx.table(t, 'optional-dependencies'), 'optional-dependencies'),
    dependencyGroups: parseDependencyMap(ctx, ctx.table(t, 'dev-dependencies') ?? ctx.table(t, 'dependency-groups'), 'dev-dependencies'),
  };
  if (version !== undefined) pkg.version = version;
  if (line !== undefined) pkg.line = line;
  const sdist = ctx.table(t, 'sdist');
  if (sdist) {
    const art = parseArtifact(ctx, sdist, source, 'sdist');
    if (art.filename) pkg.sdist = art;
  }
  const fork = ctx.strArr(t, 'resolution-markers');
  if (fork.length) pkg.resolutionMarkers = fork;
  const metadata = ctx.table(t, 'metadata');
  if (metadata) {
    if (metadata['requires-dist'] !== undefined) {
      pkg.requiresDist = ctx.tables(metadata, 'requires-dist').map((r) => requiresDistEntry(ctx, r));
    }
    const provides = ctx.strArr(metadata, 'provides-extras');
    if (provides.length) pkg.providesExtras = provides.map(canonicalizeName);
  }
  return pkg;
}

/** Parses the text of a uv.lock. `path` is used in messages and kept in the result. */
/** Parses a uv.lock's text; the same text of the same file is parsed once per process. */
export const parseUvLock: (text: string, path: string) => Lockfile = lastParsePerFile(parseUvLockText);

function parseUvLockText(text: string, path: string): Lockfile {
  const doc = parseLockToml(text, path, 'Fix the file by hand or regenerate it with `uv lock`.');
  const top = new Ctx(path, undefined, 'top level');
  const version = top.int(doc, 'version');
  if (version === undefined) top.fail('`version` is missing, so this is not a uv.lock');
  const revision = top.int(doc, 'revision') ?? 0;
  if (version !== UV_LOCK_VERSION) {
    throw new LockError(
      `${path}: unsupported uv.lock schema version ${version} (revision ${revision}); only version ${UV_LOCK_VERSION} is supported. ` +
        `Regenerate the lock with a uv release that writes version ${UV_LOCK_VERSION}, or upgrade nx-pex.`,
      path,
    );
  }
  const lines = packageHeaderLines(text);
  const rawPackages = top.arr(doc, 'package').length ? top.tables(doc, 'package') : top.tables(doc, 'distribution');
  const packages = rawPackages.map((t, i) => parsePackage(path, lines[i], i, t));
  const manifest = top.table(doc, 'manifest');
  const members = manifest ? top.strArr(manifest, 'members').map(canonicalizeName) : [];
  const lock: Lockfile = {
    path,
    format: 'uv',
    packages,
    workspaceMembers: [...new Set(members)].sort(),
    resolutionMarkers: top.strArr(doc, 'resolution-markers'),
    conflicts: parseConflicts(top, doc['conflicts']),
    formatVersion: { version, revision },
  };
  const requiresPython = top.str(doc, 'requires-python');
  if (requiresPython !== undefined) lock.requiresPython = requiresPython;
  return lock;
}

/** Reads and parses a uv.lock file. */
export async function readUvLock(path: string): Promise<Lockfile> {
  return parseUvLock(await readLockText(path, 'Run `uv lock` to create it.'), path);
}
