/**
 * A workspace project as an installed distribution: the `.dist-info` directory a wheel of it
 * would install (core metadata, entry points, top-level names, RECORD), made from
 * `pyproject.toml` without Python when its metadata is static. Which fields are dynamic, and
 * which files a build backend reads to fill them in, are worked out here too: the engine runs
 * the backend (and caches its answer by those files) only when a field that matters is dynamic.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canonicalizeName, formatRequirement, markerToString, normalizeVersion, parseRequirement, type Requirement } from '@nx-pex/pep';
import { PyprojectError, type PyProject } from './pyproject';
import { buildBackendOf, importNameOf, projectLayout } from './sources';

/** What a distribution's metadata says, as far as running it goes. */
export interface CoreMetadata {
  /** `Name` as written. */
  name: string;
  /** PEP 440 normalised. */
  version: string;
  summary?: string;
  requiresPython?: string;
  /** `Requires-Dist` lines (the dependencies, then each extra's with its `extra == "..."` marker). */
  requiresDist: string[];
  /** `Provides-Extra`, normalised (PEP 685). */
  providesExtra: string[];
  /** Entry point groups: group → name → `module:attr [extras]`. */
  entryPoints: Record<string, Record<string, string>>;
  /**
   * The fields that describe the project (`Author`, `License`, `Keywords`, `Classifier`,
   * `Project-URL`, ...) as header name and value, in order; a field may repeat.
   */
  described?: Array<[string, string]>;
}

/** `[project]` fields that change what runs: a backend must fill them in when they are dynamic. */
const RUNTIME_FIELDS = ['version', 'dependencies', 'optional-dependencies', 'requires-python', 'scripts', 'gui-scripts', 'entry-points'];

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function projectTable(project: PyProject): Record<string, unknown> | undefined {
  return isTable(project.raw.project) ? project.raw.project : undefined;
}

/**
 * Why a project's metadata needs its build backend, or undefined when `pyproject.toml` says it
 * all: a `[project]` field that matters being `dynamic`, or no `[project]` table (Poetry 1, a
 * `setup.py` project).
 */
export function metadataNeedsBackend(project: PyProject): string | undefined {
  const table = projectTable(project);
  if (!table) return `${project.file} has no [project] table, so its build backend says what the metadata is`;
  const dynamic = Array.isArray(table.dynamic) ? table.dynamic.filter((d): d is string => typeof d === 'string') : [];
  const fields = dynamic.filter((d) => RUNTIME_FIELDS.includes(d));
  if (fields.length) return `${project.file} [project] dynamic lists ${fields.join(', ')}`;
  return undefined;
}

/**
 * False for a project that cannot be a distribution: a `[project]` table with neither a version
 * nor `version` among its dynamic fields (PEP 621 requires one; uv takes such a project as
 * virtual). Its code still goes into a PEX, without a dist-info.
 */
export function hasVersion(project: PyProject): boolean {
  const table = projectTable(project);
  if (!table) return true;
  const dynamic = Array.isArray(table.dynamic) ? table.dynamic : [];
  return typeof table.version === 'string' || dynamic.includes('version');
}

/** `[project] optional-dependencies` parsed: extra (as written) → requirements. */
function optionalDependencies(project: PyProject): Array<[string, Requirement[]]> {
  const table = projectTable(project)?.['optional-dependencies'];
  if (table === undefined) return [];
  if (!isTable(table)) throw new PyprojectError(`${project.file}: [project.optional-dependencies] must be a table of lists.`);
  return Object.entries(table).map(([extra, list]) => {
    if (!Array.isArray(list) || list.some((r) => typeof r !== 'string')) {
      throw new PyprojectError(`${project.file}: [project.optional-dependencies] ${extra} must be a list of requirements.`);
    }
    return [
      extra,
      (list as string[]).map((spec, i) => {
        try {
          return parseRequirement(spec);
        } catch (err) {
          throw new PyprojectError(`${project.file}: [project.optional-dependencies] ${extra}[${i}] "${spec}" is not a valid requirement: ${(err as Error).message}`);
        }
      }),
    ];
  });
}

/** PEP 685's form of an extra's name. */
export function normalizeExtra(extra: string): string {
  return extra.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A requirement of an extra: its marker, if any, and-ed with `extra == "<extra>"`. */
function withExtra(req: Requirement, extra: string): string {
  const text = formatRequirement({ ...req, marker: undefined });
  const marker = req.marker ? markerToString(req.marker) : undefined;
  const sepr = req.url ? ' ; ' : '; ';
  if (!marker) return `${text}${sepr}extra == "${extra}"`;
  // As setuptools writes it: parentheses only where `and` would bind into an `or`.
  return `${text}${sepr}${/ or /.test(marker) ? `(${marker})` : marker} and extra == "${extra}"`;
}

/**
 * A requirement as hatchling writes it into METADATA: the name normalised and the marker's
 * strings in single quotes (it swaps every `"` for `'`).
 */
function hatchlingRequirement(req: Requirement): string {
  return formatRequirement({ ...req, name: canonicalizeName(req.name) }).replace(/"/g, "'");
}

/** Requirements in hatchling's order: sorted by the text it writes, each text once. */
function hatchlingOrder(reqs: readonly Requirement[]): Requirement[] {
  const byText = new Map<string, Requirement>();
  for (const r of reqs) byText.set(hatchlingRequirement(r), r);
  return [...byText.keys()].sort().map((k) => byText.get(k)!);
}

/** A requirement of an extra as hatchling writes it: its own marker, if any, always in parentheses. */
function hatchlingWithExtra(req: Requirement, extra: string): string {
  const text = hatchlingRequirement(req);
  const semi = text.indexOf(';');
  if (semi >= 0) return `${text.slice(0, semi).trimEnd()}; (${text.slice(semi + 1).trim()}) and extra == '${extra}'`;
  return `${text}${req.url ? ' ; ' : '; '}extra == '${extra}'`;
}

function stringTable(value: unknown, where: string, file: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new PyprojectError(`${file}: ${where} must be a table of "module:attr" strings.`);
  }
  return value as Record<string, string>;
}

function stringList(value: unknown, where: string, file: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new PyprojectError(`${file}: ${where} must be a list of strings.`);
  return value as string[];
}

/** A header value on one line, as core metadata needs it for every field but the description. */
function oneLine(value: string): string {
  return value.replace(/\s*\r?\n\s*/g, ' ').trim();
}

/**
 * The descriptive fields of `[project]` as PEP 621 maps them to core metadata: `authors` and
 * `maintainers` (a name alone into `Author`, an email with or without a name into `Author-email`
 * as `Name <email>`, several joined by ", "), `license` (`{ text }` as `License`, an SPDX string as
 * `License-Expression`), `keywords` (comma-joined; hatchling sorts them and drops duplicates),
 * `classifiers` and `urls`. A `license = { file }`, whose text a backend copies into `License`, and
 * the readme (the body of METADATA) are left out, as are fields listed in `dynamic`.
 */
function describedFields(project: PyProject, table: Record<string, unknown>): Array<[string, string]> {
  const file = project.file;
  const out: Array<[string, string]> = [];
  for (const [key, header] of [
    ['authors', 'Author'],
    ['maintainers', 'Maintainer'],
  ] as const) {
    const list = table[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((p) => !isTable(p))) throw new PyprojectError(`${file}: [project] ${key} must be a list of tables with a name and/or an email.`);
    const names: string[] = [];
    const emails: string[] = [];
    for (const person of list as Array<Record<string, unknown>>) {
      const name = typeof person.name === 'string' ? oneLine(person.name) : undefined;
      const email = typeof person.email === 'string' ? oneLine(person.email) : undefined;
      if (email) emails.push(name ? `${name} <${email}>` : email);
      else if (name) names.push(name);
    }
    if (names.length) out.push([header, names.join(', ')]);
    if (emails.length) out.push([`${header}-email`, emails.join(', ')]);
  }
  const license = table.license;
  if (typeof license === 'string') out.push(['License-Expression', oneLine(license)]);
  else if (isTable(license) && typeof license.text === 'string') out.push(['License', oneLine(license.text)]);
  else if (license !== undefined && !isTable(license)) throw new PyprojectError(`${file}: [project] license must be an SPDX expression string or a table with text or file.`);
  let keywords = stringList(table.keywords, '[project] keywords', file).map(oneLine);
  if (buildBackendOf(project).startsWith('hatchling')) keywords = [...new Set(keywords)].sort();
  if (keywords.length) out.push(['Keywords', keywords.join(',')]);
  for (const c of stringList(table.classifiers, '[project] classifiers', file)) out.push(['Classifier', oneLine(c)]);
  const urls = table.urls;
  if (urls !== undefined) {
    if (!isTable(urls) || Object.values(urls).some((u) => typeof u !== 'string')) throw new PyprojectError(`${file}: [project.urls] must be a table of label = "URL".`);
    for (const [label, url] of Object.entries(urls as Record<string, string>)) out.push(['Project-URL', `${oneLine(label)}, ${oneLine(url)}`]);
  }
  return out;
}

/** The metadata `pyproject.toml` gives; call only when `metadataNeedsBackend` says nothing is missing. */
export function staticCoreMetadata(project: PyProject): CoreMetadata {
  const table = projectTable(project)!;
  const version = normalizeVersion(project.version!);
  if (version === undefined) {
    throw new PyprojectError(`${project.file}: [project] version "${project.version}" is not a PEP 440 version; write e.g. "1.0.0".`);
  }
  const hatchling = buildBackendOf(project).startsWith('hatchling');
  const requiresDist = hatchling ? hatchlingOrder(project.dependencies).map(hatchlingRequirement) : project.dependencies.map(formatRequirement);
  const providesExtra: string[] = [];
  let extras = optionalDependencies(project).map(([extra, reqs]): [string, Requirement[]] => [normalizeExtra(extra), reqs]);
  // hatchling sorts the extras by name, and each one's requirements as it sorts the dependencies.
  if (hatchling) extras = extras.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([name, reqs]) => [name, hatchlingOrder(reqs)]);
  for (const [name, reqs] of extras) {
    providesExtra.push(name);
    for (const r of reqs) requiresDist.push(hatchling ? hatchlingWithExtra(r, name) : withExtra(r, name));
  }
  const description = typeof table.description === 'string' ? table.description : undefined;
  return {
    name: project.name!,
    version,
    summary: description?.replace(/\s*\n\s*/g, ' ').trim() || undefined,
    requiresPython: project.requiresPython,
    requiresDist,
    providesExtra,
    entryPoints: staticEntryPoints(project),
    described: describedFields(project, table),
  };
}

/** True when `[project]` has its scripts and entry points written out (none of them dynamic). */
export function entryPointsAreStatic(project: PyProject): boolean {
  const table = projectTable(project);
  const dynamic = table && Array.isArray(table.dynamic) ? table.dynamic : [];
  return table !== undefined && !['scripts', 'gui-scripts', 'entry-points'].some((f) => dynamic.includes(f));
}

/** `[project.scripts]`, `[project.gui-scripts]` and `[project.entry-points]` as entry point groups. */
export function staticEntryPoints(project: PyProject): Record<string, Record<string, string>> {
  const table = projectTable(project) ?? {};
  const entryPoints: Record<string, Record<string, string>> = {};
  const scripts = stringTable(table.scripts, '[project.scripts]', project.file);
  const gui = stringTable(table['gui-scripts'], '[project.gui-scripts]', project.file);
  if (Object.keys(scripts).length) entryPoints.console_scripts = scripts;
  if (Object.keys(gui).length) entryPoints.gui_scripts = gui;
  const groups = table['entry-points'];
  if (groups !== undefined) {
    if (!isTable(groups)) throw new PyprojectError(`${project.file}: [project.entry-points] must be a table of groups.`);
    for (const [group, entries] of Object.entries(groups)) {
      if (group === 'console_scripts' || group === 'gui_scripts') {
        throw new PyprojectError(`${project.file}: [project.entry-points.${group}] is not allowed; use [project.${group === 'console_scripts' ? 'scripts' : 'gui-scripts'}].`);
      }
      entryPoints[group] = stringTable(entries, `[project.entry-points.${group}]`, project.file);
    }
  }
  return entryPoints;
}

/** The `METADATA` file of `meta`: core metadata 2.3, or 2.4 when it has a `License-Expression`. */
export function renderMetadata(meta: CoreMetadata): string {
  const described = meta.described ?? [];
  const version = described.some(([h]) => h === 'License-Expression') ? '2.4' : '2.3';
  const lines = [`Metadata-Version: ${version}`, `Name: ${meta.name}`, `Version: ${meta.version}`];
  if (meta.summary) lines.push(`Summary: ${meta.summary}`);
  for (const [header, value] of described) lines.push(`${header}: ${value}`);
  if (meta.requiresPython) lines.push(`Requires-Python: ${meta.requiresPython}`);
  for (const r of meta.requiresDist) lines.push(`Requires-Dist: ${r}`);
  for (const e of meta.providesExtra) lines.push(`Provides-Extra: ${e}`);
  return `${lines.join('\n')}\n`;
}

/** `entry_points.txt` (the ini format setuptools and every backend write); empty when there are none. */
export function renderEntryPoints(groups: Record<string, Record<string, string>>): string {
  const out: string[] = [];
  for (const [group, entries] of Object.entries(groups)) {
    if (Object.keys(entries).length === 0) continue;
    out.push(`[${group}]`, ...Object.entries(entries).map(([name, value]) => `${name} = ${value.trim()}`), '');
  }
  return out.join('\n');
}

/** Name and version from a `METADATA` file's headers. */
export function metadataNameVersion(text: string): { name?: string; version?: string } {
  const head = text.split(/\r?\n\r?\n/)[0]!;
  const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'mi').exec(head)?.[1]?.trim();
  return { name: field('Name'), version: field('Version') };
}

/** `<name>-<version>.dist-info`, with the name and version escaped as in wheel file names. */
export function distInfoDirName(name: string, version: string): string {
  return `${canonicalizeName(name).replace(/-/g, '_')}-${version.replace(/-/g, '_')}.dist-info`;
}

/** A file of a dist-info directory: its path (relative to the site-packages root) and bytes. */
export interface DistInfoFile {
  path: string;
  data: Buffer;
}

/** One file of the distribution's code, for RECORD. */
export interface RecordedFile {
  path: string;
  sha256: Buffer;
  size: number;
}

function recordHash(digest: Buffer): string {
  return `sha256=${digest.toString('base64url')}`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** What a dist-info directory is made of. */
export interface DistInfoSpec {
  name: string;
  version: string;
  metadata: string | Buffer;
  entryPoints?: string | Buffer;
  /** The distribution's installed code, listed in RECORD (none for an editable install). */
  files: readonly RecordedFile[];
  /** Top-level packages and modules; default: those of `files`. */
  topLevel?: readonly string[];
  /** For an editable install (PEP 660): the project directory, recorded in `direct_url.json` (PEP 610). */
  editableDir?: string;
}

/** Top-level names of installed files (`pkg/x.py` → pkg, `mod.py` → mod). */
function topLevelOf(files: readonly RecordedFile[]): string[] {
  const top = new Set<string>();
  for (const f of files) {
    const first = f.path.split('/')[0]!;
    if (f.path.includes('/')) top.add(first);
    else if (first.endsWith('.py')) top.add(first.slice(0, -3));
  }
  return [...top];
}

/**
 * The dist-info directory of a distribution whose code is `files`: `METADATA` and
 * `entry_points.txt` as given (from `pyproject.toml` or the backend), `top_level.txt`,
 * `direct_url.json` for an editable install, and a RECORD listing every file with its sha256
 * and size (RECORD itself without).
 */
export function distInfoFiles(o: DistInfoSpec): DistInfoFile[] {
  const dir = distInfoDirName(o.name, o.version);
  const out: DistInfoFile[] = [{ path: `${dir}/METADATA`, data: Buffer.from(o.metadata) }];
  if (o.entryPoints !== undefined && Buffer.from(o.entryPoints).length > 0) out.push({ path: `${dir}/entry_points.txt`, data: Buffer.from(o.entryPoints) });
  const top = [...new Set(o.topLevel ?? topLevelOf(o.files))].sort();
  out.push({ path: `${dir}/top_level.txt`, data: Buffer.from(top.map((t) => `${t}\n`).join('')) });
  if (o.editableDir !== undefined) {
    const url = pathToFileURL(o.editableDir).href;
    out.push({ path: `${dir}/direct_url.json`, data: Buffer.from(`${JSON.stringify({ url, dir_info: { editable: true } })}\n`) });
  }
  const rows = [
    ...o.files.map((f) => [f.path, recordHash(f.sha256), String(f.size)]),
    ...out.map((f) => [f.path, recordHash(createHash('sha256').update(f.data).digest()), String(f.data.length)]),
  ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  rows.push([`${dir}/RECORD`, '', '']);
  out.push({ path: `${dir}/RECORD`, data: Buffer.from(rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n') });
  return out;
}

/**
 * The files a build backend reads to work out a project's metadata, besides `pyproject.toml`:
 * a hatch metadata hook, version files, `setup.py`/`setup.cfg`, the module flit-core takes the
 * version and description from, `Cargo.toml` for maturin, the readme and license files a
 * backend copies into METADATA, and the backend's own in-tree code (`backend-path`). Paths are
 * absolute; missing ones are left out. `vcs` is true when the version comes from the VCS (the
 * repository's state is then an input too).
 */
export function metadataInputs(project: PyProject): { files: string[]; vcs: boolean } {
  const dir = project.dir;
  const files = new Set<string>();
  const add = (p: unknown) => {
    if (typeof p === 'string' && p) files.add(resolve(dir, p));
  };
  const tool = isTable(project.raw.tool) ? project.raw.tool : {};
  const table = projectTable(project) ?? {};
  let vcs = false;
  // hatchling
  const hatch = isTable(tool.hatch) ? tool.hatch : {};
  const hatchVersion = isTable(hatch.version) ? hatch.version : {};
  if (hatchVersion.source === 'vcs') vcs = true;
  add(hatchVersion.path);
  const hooks = isTable(hatch.metadata) && isTable(hatch.metadata.hooks) ? hatch.metadata.hooks : {};
  for (const [name, hook] of Object.entries(hooks)) {
    if (name === 'vcs') vcs = true;
    if (name === 'custom') add(isTable(hook) && typeof hook.path === 'string' ? hook.path : 'hatch_build.py');
  }
  // setuptools
  add('setup.py');
  add('setup.cfg');
  const st = isTable(tool.setuptools) ? tool.setuptools : {};
  const dyn = isTable(st.dynamic) ? st.dynamic : {};
  for (const spec of Object.values(dyn)) {
    const one = (s: unknown) => {
      if (!isTable(s)) return;
      if (typeof s.file === 'string') add(s.file);
      if (Array.isArray(s.file)) s.file.forEach(add);
      if (typeof s.attr === 'string') for (const f of attrFiles(project, st, s.attr)) add(f);
    };
    if (isTable(spec) && !('file' in spec) && !('attr' in spec)) Object.values(spec).forEach(one);
    else one(spec);
  }
  if (isTable(tool.setuptools_scm) || isTable(tool['setuptools-scm'])) vcs = true;
  // pdm-backend
  const pdmVersion = isTable(tool.pdm) && isTable(tool.pdm.version) ? tool.pdm.version : {};
  if (pdmVersion.source === 'scm') vcs = true;
  if (pdmVersion.source === 'file') add(pdmVersion.path);
  const pdmBuild = isTable(tool.pdm) && isTable(tool.pdm.build) ? tool.pdm.build : {};
  add(typeof pdmBuild['custom-hook'] === 'string' ? pdmBuild['custom-hook'] : 'pdm_build.py');
  // poetry-dynamic-versioning and friends read the VCS.
  if (isTable(tool['poetry-dynamic-versioning'])) vcs = true;
  // flit-core: version and description from the module's docstring and __version__.
  const backend = buildBackendOf(project);
  if (backend.startsWith('flit_core')) {
    const named = isTable(tool.flit) && isTable(tool.flit.module) ? tool.flit.module.name : undefined;
    const parts = (typeof named === 'string' ? named : importNameOf(project.name ?? '')).split('.');
    for (const root of ['.', 'src']) {
      add(posix.join(root, ...parts, '__init__.py'));
      add(`${posix.join(root, ...parts)}.py`);
    }
  }
  if (backend === 'maturin') add('Cargo.toml');
  // What a backend copies into METADATA.
  const readme = table.readme;
  add(typeof readme === 'string' ? readme : isTable(readme) ? readme.file : undefined);
  const license = table.license;
  if (isTable(license)) add(license.file);
  const bs = isTable(project.raw['build-system']) ? project.raw['build-system'] : {};
  // A version plugin among the build requirements reads the repository (hatch-vcs, setuptools-scm,
  // uv-dynamic-versioning, versioningit, dunamai and the poetry/pdm ones).
  const requires = Array.isArray(bs.requires) ? bs.requires.filter((r): r is string => typeof r === 'string') : [];
  if (requires.some((r) => VCS_PLUGINS.test(r.trim()))) vcs = true;
  if (typeof hatchVersion.source === 'string' && !['regex', 'code', 'env'].includes(hatchVersion.source)) vcs = true;
  if (isTable(tool['uv-dynamic-versioning']) || isTable(tool.versioningit) || isTable(tool['hatch-vcs'])) vcs = true;
  const backendPath = Array.isArray(bs['backend-path']) ? bs['backend-path'] : [];
  for (const p of backendPath) add(p);
  const found = [...files].filter((f) => existsSync(f) && !relative(dir, f).startsWith('..'));
  return { files: found.sort(), vcs };
}

const VCS_PLUGINS = /^(hatch[-_]vcs|setuptools[-_]scm|setuptools[-_]git[-_]versioning|uv[-_]dynamic[-_]versioning|versioningit|dunamai|poetry[-_]dynamic[-_]versioning|pdm[-_]backend\[scm\]|vcs[-_]versioning)\b/i;

/** The module files setuptools' `attr:` may read (`pkg.mod.__version__` → pkg/mod.py or pkg/mod/__init__.py). */
function attrFiles(project: PyProject, st: Record<string, unknown>, attr: string): string[] {
  const parts = attr.split('.').slice(0, -1);
  const packageDir = isTable(st['package-dir']) ? st['package-dir'] : {};
  const roots = [typeof packageDir[''] === 'string' ? packageDir[''] : '.', 'src'];
  const out: string[] = [];
  for (const root of roots) {
    out.push(join(project.dir, root, ...parts, '__init__.py'), `${join(project.dir, root, ...parts)}.py`);
  }
  return out.map((p) => p.split(sep).join(sep));
}

/**
 * Every path whose content can change what a project contributes to a PEX: its pyproject.toml,
 * the files and directories of its layout, and what its backend reads for metadata when that is
 * dynamic (static metadata comes from pyproject.toml alone); the whole
 * project directory when its backend builds it (a layout only the backend knows, or the wheel
 * form). Absolute; `dirs` are taken with everything below them.
 */
export async function contributingPaths(project: PyProject): Promise<{ files: string[]; dirs: string[] }> {
  const files = new Set<string>([project.file]);
  const dirs = new Set<string>();
  let layout;
  try {
    layout = await projectLayout(project);
  } catch {
    layout = undefined; // the build reports it; meanwhile every file counts
  }
  if (!layout || layout.backend || project.nxPex.firstParty === 'wheel') return { files: [...files], dirs: [project.dir] };
  for (const item of layout.items) (existsSync(item.src) && statSync(item.src).isDirectory() ? dirs : files).add(item.src);
  // What the build backend reads for metadata (a hook, a version file, the readme) matters only
  // when the backend is asked: static metadata comes from pyproject.toml alone.
  if (metadataNeedsBackend(project)) for (const f of metadataInputs(project).files) files.add(f);
  return { files: [...files].sort(), dirs: [...dirs].sort() };
}
