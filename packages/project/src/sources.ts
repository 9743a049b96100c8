import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, resolve, sep } from 'node:path';
import { PyprojectError, type PyProject } from './pyproject';

/** A first-party file and the path it takes inside a PEX (relative to `sys.path`). */
export interface SourceFile {
  /** Posix path inside the PEX, e.g. `service_a/main.py`. */
  path: string;
  absPath: string;
}

/** A directory put on `sys.path` and the top-level packages or modules taken from it. */
export interface ImportRoot {
  /** Absolute directory that plays the role of site-packages. */
  dir: string;
  /** Names of top-level packages (directories) and modules (`x.py`) inside `dir`. */
  entries: string[];
}

const FLAT_SKIP_DIRS = new Set(['tests', 'test', 'docs', 'doc', 'examples', 'build', 'dist', 'node_modules', 'venv']);
const FLAT_SKIP_MODULES = new Set(['setup.py', 'conftest.py', 'noxfile.py', 'fabfile.py']);

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** True when `dir` holds Python code somewhere below it (a package, or a namespace package). */
async function holdsPython(dir: string): Promise<boolean> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === '__pycache__') continue;
    if (entry.isFile() && entry.name.endsWith('.py')) return true;
    if (entry.isDirectory() && (await holdsPython(join(dir, entry.name)))) return true;
  }
  return false;
}

/** Top-level packages and modules directly inside `dir`. */
async function scanRoot(dir: string, flat: boolean): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.name;
    if (name.startsWith('.') || name === '__pycache__') continue;
    const full = join(dir, name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDir(full)))) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      if (flat) {
        if (FLAT_SKIP_DIRS.has(name) || !(await isFile(join(full, '__init__.py')))) continue;
      } else if (!(await holdsPython(full))) {
        continue;
      }
      found.push(name);
    } else if (name.endsWith('.py') && /^[A-Za-z_][A-Za-z0-9_]*\.py$/.test(name)) {
      if (flat && (FLAT_SKIP_MODULES.has(name) || name.startsWith('test_') || name.endsWith('_test.py'))) continue;
      found.push(name);
    }
  }
  return found.sort();
}

/** One file or directory of a project's code and the path it takes inside a PEX. */
export interface LayoutItem {
  /** Absolute path of the file or directory in the project. */
  src: string;
  /** Posix path inside the PEX (relative to `sys.path`). */
  dest: string;
  /** Posix paths below `src` (directories) left out, for setuptools' `exclude` patterns. */
  exclude?: string[];
}

/**
 * Where a project's code comes from and where it goes, as its build backend decides:
 * `metadataOnly` for a project that ships no code (a meta-package), `backend` when only running
 * the backend can tell (a `setup.py` without static configuration, or an unknown backend).
 */
export interface ProjectLayout {
  items: LayoutItem[];
  metadataOnly?: boolean;
  /** Why the layout cannot be known without running the build backend. */
  backend?: string;
  /** The pyproject key the layout was read from, for messages. */
  from?: string;
}

/** The build backend a pyproject.toml names (`[build-system] build-backend`); setuptools' legacy backend when none. */
export function buildBackendOf(project: PyProject): string {
  const bs = isTable(project.raw['build-system']) ? (project.raw['build-system'] as Record<string, unknown>) : undefined;
  const backend = bs?.['build-backend'];
  return typeof backend === 'string' ? backend.trim() : 'setuptools.build_meta:__legacy__';
}

function toolTable(project: PyProject, ...keys: string[]): Record<string, unknown> | undefined {
  let cur: unknown = project.raw.tool;
  for (const k of keys) {
    if (!isTable(cur)) return undefined;
    cur = cur[k];
  }
  return isTable(cur) ? cur : undefined;
}

/** A distribution name as an import name (`my-lib` → `my_lib`). */
export function importNameOf(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '_');
}

function posixRel(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}

function checkInside(project: PyProject, path: string, key: string): string {
  const full = resolve(project.dir, path);
  const rel = relative(project.dir, full);
  if (rel.startsWith('..') || resolve(rel) === rel) {
    throw new PyprojectError(`${project.file}: ${key} names ${path}, which is outside the project; name a path inside ${project.dir}.`);
  }
  return full;
}

async function exists(path: string): Promise<boolean> {
  return (await isDir(path)) || (await isFile(path));
}

async function requireExists(project: PyProject, full: string, key: string): Promise<void> {
  if (!(await exists(full))) {
    throw new PyprojectError(`${project.file}: ${key} names ${posixRel(project.dir, full)}, which does not exist. Fix the path or create it.`);
  }
}

/** hatchling's `[tool.hatch.build.targets.wheel]` (with `[tool.hatch.build]` defaults). */
async function hatchLayout(project: PyProject): Promise<ProjectLayout | undefined> {
  const build = toolTable(project, 'hatch', 'build') ?? {};
  const wheel = toolTable(project, 'hatch', 'build', 'targets', 'wheel') ?? {};
  const opt = (k: string) => (wheel[k] !== undefined ? wheel[k] : build[k]);
  const key = (k: string) => `[tool.hatch.build${wheel[k] !== undefined ? '.targets.wheel' : ''}] ${k}`;
  const items: LayoutItem[] = [];
  // `sources`: a list of prefixes to strip, or a table of prefix → replacement.
  const sourcesOpt = opt('sources');
  const remap: Array<[string, string]> = [];
  if (Array.isArray(sourcesOpt)) for (const s of sourcesOpt) if (typeof s === 'string') remap.push([s.replace(/\/+$/, ''), '']);
  if (isTable(sourcesOpt)) for (const [k, v] of Object.entries(sourcesOpt)) if (typeof v === 'string') remap.push([k.replace(/\/+$/, ''), v.replace(/\/+$/, '')]);
  const destOf = (rel: string): string => {
    for (const [from, to] of remap.sort((a, b) => b[0].length - a[0].length)) {
      if (from === '' || rel === from || rel.startsWith(`${from}/`)) {
        const rest = from === '' ? rel : rel.slice(from.length).replace(/^\//, '');
        return to ? posix.join(to, rest) : rest;
      }
    }
    return rel;
  };
  const forced = opt('force-include');
  const forceItems: LayoutItem[] = [];
  if (isTable(forced)) {
    for (const [src, dest] of Object.entries(forced)) {
      if (typeof dest !== 'string') continue;
      const full = checkInside(project, src, key('force-include'));
      await requireExists(project, full, key('force-include'));
      forceItems.push({ src: full, dest: dest.replace(/^\/+|\/+$/g, '') });
    }
  }
  if (opt('bypass-selection') === true) return { items: forceItems, metadataOnly: forceItems.length === 0, from: key('bypass-selection') };
  const packages = opt('packages');
  const onlyInclude = opt('only-include');
  if (Array.isArray(packages) && packages.every((p) => typeof p === 'string')) {
    // Each package goes in at its name (the last part of the path) unless `sources` says more.
    for (const p of packages as string[]) {
      const full = checkInside(project, p, key('packages'));
      await requireExists(project, full, key('packages'));
      const rel = posixRel(project.dir, full);
      items.push({ src: full, dest: remap.length ? destOf(rel) : basename(full) });
    }
    return { items: [...items, ...forceItems], from: key('packages') };
  }
  if (Array.isArray(onlyInclude) && onlyInclude.every((p) => typeof p === 'string')) {
    for (const p of onlyInclude as string[]) {
      const full = checkInside(project, p, key('only-include'));
      await requireExists(project, full, key('only-include'));
      items.push({ src: full, dest: destOf(posixRel(project.dir, full)) });
    }
    return { items: [...items, ...forceItems], metadataOnly: items.length + forceItems.length === 0, from: key('only-include') };
  }
  if (forceItems.length || remap.length) {
    const found = await defaultLayout(project);
    const mapped = remap.length ? found.items.map((i) => ({ ...i, dest: destOf(posixRel(project.dir, i.src)) })) : found.items;
    return { items: [...mapped, ...forceItems] };
  }
  return undefined;
}

/** setuptools' `[tool.setuptools]`: `py-modules`, `packages` (a list or `find`), `package-dir`. */
async function setuptoolsLayout(project: PyProject): Promise<ProjectLayout | undefined> {
  const st = toolTable(project, 'setuptools');
  if (!st) return undefined;
  const packageDir = isTable(st['package-dir']) ? (st['package-dir'] as Record<string, unknown>) : {};
  /** The directory of a dotted package, through `package-dir`. */
  const dirOf = (dotted: string): string => {
    const parts = dotted.split('.');
    for (let i = parts.length; i > 0; i--) {
      const prefix = parts.slice(0, i).join('.');
      const mapped = packageDir[prefix];
      if (typeof mapped === 'string') return resolve(project.dir, mapped, ...parts.slice(i));
    }
    const root = typeof packageDir[''] === 'string' ? (packageDir[''] as string) : '.';
    return resolve(project.dir, root, ...parts);
  };
  const items: LayoutItem[] = [];
  const pyModules = st['py-modules'];
  const packages = st.packages;
  if (Array.isArray(pyModules)) {
    for (const m of pyModules) {
      if (typeof m !== 'string') continue;
      const parts = m.split('.');
      const full = `${dirOf(m)}.py`;
      await requireExists(project, full, '[tool.setuptools] py-modules');
      items.push({ src: full, dest: `${parts.join('/')}.py` });
    }
  }
  if (Array.isArray(packages)) {
    // An explicit list names every package: each directory's own files, subpackages listed apart.
    const names = (packages as unknown[]).filter((p): p is string => typeof p === 'string');
    for (const name of names) {
      const full = dirOf(name);
      if (!(await isDir(full))) {
        throw new PyprojectError(`${project.file}: [tool.setuptools] packages names ${name}, but ${posixRel(project.dir, full)} is not a directory. Fix the name or [tool.setuptools] package-dir.`);
      }
      const subdirs = (await readdir(full, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
      const exclude = subdirs.filter((d) => !names.includes(`${name}.${d}`));
      items.push({ src: full, dest: name.split('.').join('/'), exclude });
    }
    return { items, metadataOnly: items.length === 0, from: '[tool.setuptools] packages' };
  }
  const find = isTable(packages) && isTable(packages.find) ? (packages.find as Record<string, unknown>) : undefined;
  if (find) {
    items.push(...(await foundPackages(project, find)));
    return { items, metadataOnly: items.length === 0, from: '[tool.setuptools.packages.find]' };
  }
  if (Array.isArray(pyModules)) return { items, metadataOnly: items.length === 0, from: '[tool.setuptools] py-modules' };
  if (typeof packageDir[''] === 'string') {
    const dir = resolve(project.dir, packageDir[''] as string);
    return { items: (await scanRoot(dir, false)).map((e) => ({ src: join(dir, e), dest: e })), from: '[tool.setuptools] package-dir' };
  }
  return undefined;
}

/**
 * `[tool.setuptools.packages.find]`: the packages under each `where` (with `__init__.py`, or any
 * directory holding Python when `namespaces`), filtered by `include` and `exclude`; each top-most
 * chosen package is an item that leaves out its subpackages not chosen.
 */
async function foundPackages(project: PyProject, find: Record<string, unknown>): Promise<LayoutItem[]> {
  const where = Array.isArray(find.where) ? (find.where as unknown[]).filter((w): w is string => typeof w === 'string') : ['.'];
  const include = Array.isArray(find.include) ? (find.include as string[]) : ['*'];
  const exclude = Array.isArray(find.exclude) ? (find.exclude as string[]) : [];
  const namespaces = find.namespaces !== false;
  const items: LayoutItem[] = [];
  for (const w of where) {
    const base = checkInside(project, w === '.' ? './' : w, '[tool.setuptools.packages.find] where');
    if (!(await isDir(base))) continue;
    const found: string[] = [];
    const scan = async (dir: string, dotted: string) => {
      for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (!e.isDirectory() || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) continue;
        const name = dotted ? `${dotted}.${e.name}` : e.name;
        const full = join(dir, e.name);
        const isPkg = (await isFile(join(full, '__init__.py'))) || (namespaces && (await holdsPython(full)));
        if (!isPkg) continue;
        found.push(name);
        await scan(full, name);
      }
    };
    await scan(base, '');
    const chosen = found.filter((n) => include.some((g) => globMatch(g, n)) && !exclude.some((g) => globMatch(g, n)));
    // Top-most chosen packages become items; chosen-not subpackages below them are left out.
    for (const name of chosen) {
      const parent = chosen.find((o) => name.startsWith(`${o}.`));
      if (parent) continue;
      const below = found.filter((n) => n.startsWith(`${name}.`) && !chosen.includes(n)).map((n) => n.slice(name.length + 1).split('.').join('/'));
      items.push({ src: join(base, ...name.split('.')), dest: name.split('.').join('/'), exclude: below });
    }
  }
  return items;
}

/** fnmatch-style match of setuptools' include/exclude patterns on dotted names. */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}

/** A dotted module (`ns.pkg` or `mod`) under `root`: its package directory or its `.py` file. */
async function moduleItem(project: PyProject, root: string, dotted: string, key: string): Promise<LayoutItem> {
  const parts = dotted.split('.');
  const dir = join(root, ...parts);
  if (await isDir(dir)) return { src: dir, dest: parts.join('/') };
  if (await isFile(`${dir}.py`)) return { src: `${dir}.py`, dest: `${parts.join('/')}.py` };
  throw new PyprojectError(
    `${project.file}: ${key} is ${dotted}, but neither ${posixRel(project.dir, dir)}/ nor ${posixRel(project.dir, dir)}.py exists. ` +
      `Put the code there or set ${key}.`,
  );
}

/** poetry-core's `[tool.poetry] packages = [{ include, from }]`. */
async function poetryLayout(project: PyProject): Promise<ProjectLayout | undefined> {
  const list = toolTable(project, 'poetry')?.packages;
  if (!Array.isArray(list)) return undefined;
  const items: LayoutItem[] = [];
  for (const p of list) {
    if (!isTable(p) || typeof p.include !== 'string') continue;
    const format = p.format;
    if (format !== undefined && !(format === 'wheel' || (Array.isArray(format) && format.includes('wheel')))) continue;
    const from = typeof p.from === 'string' ? p.from : '.';
    const base = checkInside(project, from === '.' ? './' : from, '[tool.poetry] packages from');
    const full = join(base, p.include);
    await requireExists(project, full, '[tool.poetry] packages');
    items.push({ src: full, dest: posixRel(base, full) });
  }
  return { items, metadataOnly: items.length === 0, from: '[tool.poetry] packages' };
}

/** pdm-backend's `[tool.pdm.build]`: `includes` (paths) and `package-dir` (default `src` when it exists). */
async function pdmLayout(project: PyProject): Promise<ProjectLayout | undefined> {
  const build = toolTable(project, 'pdm', 'build') ?? {};
  const pkgDir = typeof build['package-dir'] === 'string' ? resolve(project.dir, build['package-dir'] as string) : (await isDir(join(project.dir, 'src'))) ? join(project.dir, 'src') : project.dir;
  const includes = build.includes;
  if (Array.isArray(includes)) {
    const items: LayoutItem[] = [];
    for (const inc of includes) {
      if (typeof inc !== 'string') continue;
      const full = checkInside(project, inc.replace(/\/+$/, ''), '[tool.pdm.build] includes');
      await requireExists(project, full, '[tool.pdm.build] includes');
      const rel = relative(pkgDir, full);
      items.push({ src: full, dest: rel.startsWith('..') ? posixRel(project.dir, full) : rel.split(sep).join('/') });
    }
    return { items, metadataOnly: items.length === 0, from: '[tool.pdm.build] includes' };
  }
  return { items: (await scanRoot(pkgDir, pkgDir === project.dir)).map((e) => ({ src: join(pkgDir, e), dest: e })) };
}

/** flit-core: the module named `[tool.flit.module] name`, else the distribution's import name; in `src/` or at the top. */
async function flitLayout(project: PyProject): Promise<ProjectLayout> {
  const named = toolTable(project, 'flit', 'module')?.name;
  const dotted = typeof named === 'string' ? named : importNameOf(project.name ?? '');
  const key = typeof named === 'string' ? '[tool.flit.module] name' : '[project] name (flit-core takes the module of that name)';
  const parts = dotted.split('.');
  for (const root of [project.dir, join(project.dir, 'src')]) {
    if ((await isDir(join(root, ...parts))) || (await isFile(`${join(root, ...parts)}.py`))) {
      return { items: [await moduleItem(project, root, dotted, key)], from: key };
    }
  }
  return { items: [await moduleItem(project, project.dir, dotted, key)] };
}

/** uv_build: `[tool.uv.build-backend] module-name` (one or several) under `module-root` (default `src`). */
async function uvBuildLayout(project: PyProject): Promise<ProjectLayout> {
  const cfg = toolTable(project, 'uv', 'build-backend') ?? {};
  const root = resolve(project.dir, typeof cfg['module-root'] === 'string' ? (cfg['module-root'] as string) : 'src');
  const names = typeof cfg['module-name'] === 'string' ? [cfg['module-name'] as string] : Array.isArray(cfg['module-name']) ? (cfg['module-name'] as string[]) : [importNameOf(project.name ?? '')];
  const key = cfg['module-name'] !== undefined ? '[tool.uv.build-backend] module-name' : '[project] name (uv_build takes the module of that name)';
  const items: LayoutItem[] = [];
  for (const n of names) items.push(await moduleItem(project, root, n, key));
  return { items, from: key };
}

/** maturin (pure Python part): `[tool.maturin] python-source` and the package named by `module-name` or the project. */
async function maturinLayout(project: PyProject): Promise<ProjectLayout> {
  const cfg = toolTable(project, 'maturin') ?? {};
  const root = resolve(project.dir, typeof cfg['python-source'] === 'string' ? (cfg['python-source'] as string) : '.');
  const moduleName = typeof cfg['module-name'] === 'string' ? (cfg['module-name'] as string) : importNameOf(project.name ?? '');
  const top = moduleName.split('.')[0]!;
  return { items: [await moduleItem(project, root, top, '[tool.maturin] module-name')], from: '[tool.maturin]' };
}

/** The key that declares script files (`.data/scripts` of the wheel), if any. */
function scriptFilesKey(project: PyProject): string | undefined {
  const st = toolTable(project, 'setuptools');
  if (Array.isArray(st?.['script-files']) && (st!['script-files'] as unknown[]).length) return '[tool.setuptools] script-files';
  const shared = toolTable(project, 'hatch', 'build', 'targets', 'wheel', 'shared-scripts') ?? toolTable(project, 'hatch', 'build', 'shared-scripts');
  if (shared && Object.keys(shared).length) return '[tool.hatch.build.targets.wheel.shared-scripts]';
  const poetryScripts = toolTable(project, 'poetry', 'scripts');
  if (poetryScripts && Object.values(poetryScripts).some((v) => isTable(v) && v.type === 'file')) return '[tool.poetry.scripts] (type = "file")';
  return undefined;
}

/** A `src/` layout, else the flat layout (packages with `__init__.py` and top-level modules). */
async function defaultLayout(project: PyProject): Promise<ProjectLayout> {
  const src = join(project.dir, 'src');
  const flat = !(await isDir(src));
  const dir = flat ? project.dir : src;
  return { items: (await scanRoot(dir, flat)).map((e) => ({ src: join(dir, e), dest: e })) };
}

/**
 * Where a project's code lives and where it goes in a PEX, read from its build backend's
 * configuration without running it: hatchling, setuptools, poetry-core, pdm-backend, flit-core,
 * uv_build and maturin (its Python part). Without configuration, a `src/` layout, else the flat
 * layout. A setuptools project configured by `setup.py` alone is left to its backend.
 */
export async function projectLayout(project: PyProject): Promise<ProjectLayout> {
  const scriptFiles = scriptFilesKey(project);
  if (scriptFiles) return { items: [], backend: `${scriptFiles} puts script files in the wheel's .data/scripts, which only the wheel carries` };
  // Without [build-system], the package lists a known backend would read, then the default layouts.
  const declared = isTable(project.raw['build-system']) && typeof (project.raw['build-system'] as Record<string, unknown>)['build-backend'] === 'string';
  const backend = declared ? buildBackendOf(project).split(':')[0]! : '';
  let layout: ProjectLayout | undefined;
  if (backend === '') layout = (await hatchLayout(project)) ?? (await poetryLayout(project)) ?? (await setuptoolsLayout(project));
  else if (backend.startsWith('hatchling')) layout = await hatchLayout(project);
  else if (backend.startsWith('setuptools')) {
    layout = await setuptoolsLayout(project);
    if (!layout && (await isFile(join(project.dir, 'setup.py')))) {
      return { items: [], backend: `${posixRel(project.dir, join(project.dir, 'setup.py'))} decides the layout of a setuptools project without [tool.setuptools] packages` };
    }
  } else if (backend.startsWith('poetry')) layout = await poetryLayout(project);
  else if (backend.startsWith('pdm')) layout = await pdmLayout(project);
  else if (backend.startsWith('flit_core')) layout = await flitLayout(project);
  else if (backend === 'uv_build') layout = await uvBuildLayout(project);
  else if (backend === 'maturin') {
    // A crate to compile: only the backend can make its extension module.
    if (await isFile(join(project.dir, 'Cargo.toml'))) return { items: [], backend: 'maturin compiles the Rust crate of Cargo.toml' };
    layout = await maturinLayout(project);
  }
  else {
    // Other backends: a package list a known backend would read, else the default layouts.
    layout = (await hatchLayout(project)) ?? (await poetryLayout(project));
  }
  layout ??= await defaultLayout(project);
  if (layout.items.length === 0 && !layout.metadataOnly) {
    throw new PyprojectError(
      `${project.file}: no importable Python package found for ${project.name ?? 'this project'}. ` +
        `Put the code in src/<package>/ or <package>/__init__.py next to pyproject.toml` +
        (backend.startsWith('hatchling') ? ', or, for a project that only carries metadata (a meta-package), set [tool.hatch.build.targets.wheel] bypass-selection = true.' : '.'),
    );
  }
  return layout;
}

/**
 * Where a project's importable code lives: the directories put on `sys.path` and the top-level
 * packages or modules taken from each (empty for a metadata-only project).
 */
export async function findImportRoots(project: PyProject): Promise<ImportRoot[]> {
  return layoutImportRoots(await projectLayout(project));
}

/** The import roots of a layout (see `findImportRoots`). */
export function layoutImportRoots(layout: ProjectLayout): ImportRoot[] {
  const byDir = new Map<string, Set<string>>();
  for (const item of layout.items) {
    // The directory that plays site-packages for this item: its source less its PEX path.
    const depth = item.dest.split('/').length;
    let dir = item.src;
    for (let i = 0; i < depth; i++) dir = dirname(dir);
    const entry = relative(dir, item.src).split(sep)[0]!;
    byDir.set(dir, (byDir.get(dir) ?? new Set()).add(entry));
  }
  return [...byDir].map(([dir, entries]) => ({ dir, entries: [...entries].sort() }));
}

async function walk(dir: string, prefix: string, out: SourceFile[]): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const name = entry.name;
    const full = join(dir, name);
    const path = prefix ? posix.join(prefix, name) : name;
    const isDirectory = entry.isDirectory() || (entry.isSymbolicLink() && (await isDir(full)));
    if (isDirectory) {
      if (name === '__pycache__' || name.startsWith('.')) continue;
      await walk(full, path, out);
    } else if (!/\.py[co]$/.test(name)) {
      out.push({ path, absPath: full });
    }
  }
}

/** Every file of a project's import packages (code and resources), sorted by PEX path. */
export async function collectSources(project: PyProject): Promise<SourceFile[]> {
  return layoutSources(await projectLayout(project));
}

/** The files of a layout, at their PEX paths, sorted (bytecode, caches and hidden entries left out). */
export async function layoutSources(layout: ProjectLayout): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const item of layout.items) {
    if (await isDir(item.src)) {
      const files: SourceFile[] = [];
      await walk(item.src, item.dest, files);
      const skip = (item.exclude ?? []).map((e) => `${item.dest}/${e}/`);
      out.push(...files.filter((f) => !skip.some((s) => f.path.startsWith(s))));
    } else out.push({ path: item.dest, absPath: item.src });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Merges the sources of several first-party projects; two projects providing the same path
 * is an error naming both.
 */
export function mergeSources(sets: Array<{ project: PyProject; files: SourceFile[] }>): SourceFile[] {
  const seen = new Map<string, { file: SourceFile; project: PyProject }>();
  for (const { project, files } of sets) {
    for (const file of files) {
      const prior = seen.get(file.path);
      if (prior && prior.file.absPath !== file.absPath) {
        throw new PyprojectError(
          `${file.path} is provided by both ${prior.project.name} (${prior.file.absPath.split(sep).join('/')}) and ` +
            `${project.name} (${file.absPath.split(sep).join('/')}); rename one of the packages.`,
        );
      }
      seen.set(file.path, { file, project });
    }
  }
  return [...seen.values()].map((v) => v.file).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
