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

function explicitRoots(project: PyProject): Array<{ dir: string; entry: string }> | undefined {
  const tool = isTable(project.raw.tool) ? project.raw.tool : {};
  // hatchling: [tool.hatch.build.targets.wheel] packages = ["src/foo"]
  const hatch = (tool.hatch as any)?.build?.targets?.wheel?.packages;
  if (Array.isArray(hatch) && hatch.every((p) => typeof p === 'string')) {
    return hatch.map((p: string) => {
      const full = resolve(project.dir, p);
      return { dir: dirname(full), entry: basename(full) };
    });
  }
  // poetry: [tool.poetry] packages = [{ include = "foo", from = "src" }]
  const poetry = (tool.poetry as any)?.packages;
  if (Array.isArray(poetry) && poetry.every((p) => isTable(p) && typeof p.include === 'string')) {
    return poetry.map((p: { include: string; from?: string }) => ({
      dir: resolve(project.dir, p.from ?? '.'),
      entry: p.include,
    }));
  }
  return undefined;
}

function setuptoolsRoot(project: PyProject): string | undefined {
  const setuptools = (project.raw.tool as any)?.setuptools;
  if (!isTable(setuptools)) return undefined;
  const packageDir = setuptools['package-dir'];
  if (isTable(packageDir) && typeof packageDir[''] === 'string') return resolve(project.dir, packageDir['']);
  const where = (setuptools.packages as any)?.find?.where;
  if (Array.isArray(where) && typeof where[0] === 'string') return resolve(project.dir, where[0]);
  return undefined;
}

/**
 * Where a project's importable code lives: the build backend's explicit package list when it
 * has one (hatch, poetry, setuptools), else a `src/` layout, else the flat layout.
 */
export async function findImportRoots(project: PyProject): Promise<ImportRoot[]> {
  const explicit = explicitRoots(project);
  let roots: ImportRoot[];
  if (explicit) {
    const byDir = new Map<string, string[]>();
    for (const { dir, entry } of explicit) {
      const full = join(dir, entry);
      if (!(await isDir(full)) && !(await isFile(full))) {
        throw new PyprojectError(`${project.file}: the package list names ${relative(project.dir, full)}, which does not exist.`);
      }
      byDir.set(dir, [...(byDir.get(dir) ?? []), entry]);
    }
    roots = [...byDir].map(([dir, entries]) => ({ dir, entries: entries.sort() }));
  } else {
    const configured = setuptoolsRoot(project);
    const src = configured ?? join(project.dir, 'src');
    const flat = !(await isDir(src));
    const dir = flat ? project.dir : src;
    roots = [{ dir, entries: await scanRoot(dir, flat) }];
  }
  if (roots.every((r) => r.entries.length === 0)) {
    throw new PyprojectError(
      `${project.file}: no importable Python package found for ${project.name ?? 'this project'}. ` +
        `Put the code in src/<package>/ or <package>/__init__.py next to pyproject.toml.`,
    );
  }
  return roots;
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
  const out: SourceFile[] = [];
  for (const root of await findImportRoots(project)) {
    for (const entry of root.entries) {
      const full = join(root.dir, entry);
      if (await isDir(full)) await walk(full, entry, out);
      else out.push({ path: entry, absPath: full });
    }
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
