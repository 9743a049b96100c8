import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DependencyType,
  validateDependency,
  type CreateDependencies,
  type CreateDependenciesContext,
  type RawProjectGraphDependency,
} from '../nx-api';
import { canonicalizeName } from '@nx-pex/pep';
import { findUvLock, importedTopLevelModules, parsePyproject, type PyProject } from '@nx-pex/project';
import { cachedProjectPackages, governingLock, lockedWorkspaceDirs, moduleOwners, readCached } from '@nx-pex/engine';
import { normalizeOptions, type NxPexPluginOptions } from './options';
import { lockCache } from './lock-cache';

interface PythonProject {
  name: string;
  root: string;
  pyproject: PyProject;
}

function pythonProjects(workspaceRoot: string, projects: Record<string, { root: string }>): PythonProject[] {
  const out: PythonProject[] = [];
  for (const [name, config] of Object.entries(projects)) {
    const file = join(workspaceRoot, config.root, 'pyproject.toml');
    if (!existsSync(file)) continue;
    let pyproject: PyProject;
    try {
      pyproject = parsePyproject(readFileSync(file, 'utf8'), file);
    } catch {
      continue; // createNodes has already reported this file
    }
    if (pyproject.name) out.push({ name, root: config.root, pyproject });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface Layout {
  projects: PythonProject[];
  /**
   * Top-level module → the project that provides it (null: more than one does). Looked for only
   * when a project no lock governs has files to scan for imports.
   */
  owners(): Promise<Map<string, string | null>>;
}

/**
 * What the Python projects and their top-level modules depend on: the projects' roots, the
 * content hash of every pyproject.toml and the path of every file (a package or module appears
 * or goes only with a path).
 */
function layoutKey(context: CreateDependenciesContext): { key: string; pyprojects: Set<string> } {
  const h = createHash('sha256').update(context.workspaceRoot);
  for (const name of Object.keys(context.projects).sort()) h.update(`\0${name}\0${context.projects[name].root}`);
  const pyprojects = new Set<string>();
  const files = (list: Array<{ file: string; hash: string }>) => {
    for (const { file, hash } of list) {
      h.update(`\n${file}`);
      if (file === 'pyproject.toml' || file.endsWith('/pyproject.toml')) {
        h.update(`\0${hash}`);
        pyprojects.add(file);
      }
    }
  };
  for (const project of Object.keys(context.fileMap.projectFileMap).sort()) {
    h.update(`\n\n${project}`);
    files(context.fileMap.projectFileMap[project]);
  }
  files(context.fileMap.nonProjectFiles);
  return { key: h.digest('hex'), pyprojects };
}

function scanLayout(context: CreateDependenciesContext): Layout {
  const projects = pythonProjects(context.workspaceRoot, context.projects);
  let owners: Promise<Map<string, string | null>> | undefined;
  return { projects, owners: () => (owners ??= moduleOwners(projects)) };
}

// The last layout scanned and its key: unchanged files paths and pyproject.toml contents reuse it.
let memo: { key: string; layout: Layout } | undefined;

async function layoutOf(context: CreateDependenciesContext): Promise<Layout> {
  const { key, pyprojects } = layoutKey(context);
  if (memo?.key === key) return memo.layout;
  const layout = scanLayout(context);
  // A pyproject.toml Nx does not hash (an ignored file) could change unseen: such a layout is not kept.
  const hashed = layout.projects.every((p) => pyprojects.has(p.root === '.' ? 'pyproject.toml' : `${p.root}/pyproject.toml`));
  memo = hashed ? { key, layout } : undefined;
  return layout;
}

/**
 * Edges between Python projects. Where a lock governs a project (the workspace's uv.lock, or its
 * own pylock.toml), its edges are the lock's: an edge to every workspace project its closure
 * holds, through extras and markers, so every project whose PEX holds a member depends on it.
 * These edges are recomputed on every call (they follow the lock, not a file of the project).
 * Where no lock governs a project yet, its declared dependencies on other workspace projects (by
 * distribution name or `[tool.uv.sources]` path) and its imports of top-level modules other
 * projects provide stand in; a project with a poetry.lock or requirements file keeps its declared
 * ones. Only the files Nx says changed are scanned for imports; Nx keeps the edges of the others.
 * Imports the lock does not back are never edges: the build reports them (undeclared imports).
 */
export const createDependencies: CreateDependencies<NxPexPluginOptions> = async (rawOptions, context) => {
  const options = normalizeOptions(rawOptions);
  const { projects, owners } = await layoutOf(context);
  const byDist = new Map<string, string>();
  const byDir = new Map<string, string>();
  for (const p of projects) {
    byDist.set(p.pyproject.canonicalName!, p.name);
    byDir.set(resolve(p.pyproject.dir), p.name);
  }
  const edges = new Map<string, RawProjectGraphDependency>();
  const add = (source: string, target: string, sourceFile: string) => {
    if (source === target) return;
    const dep: RawProjectGraphDependency = { source, target, sourceFile, type: DependencyType.static };
    validateDependency(dep, context);
    edges.set(`${source}\0${target}\0${sourceFile}`, dep);
  };
  const addLocked = (source: string, target: string) => {
    if (source === target) return;
    const dep: RawProjectGraphDependency = { source, target, type: DependencyType.implicit };
    validateDependency(dep, context);
    edges.set(`${source}\0${target}\0`, dep);
  };

  const lookups = new Map<string, Promise<string | undefined>>();
  const cache = lockCache(context.workspaceRoot);
  const unlocked = new Set<string>();
  for (const p of projects) {
    const governing = await governingLock(p.pyproject, context.workspaceRoot, options.lockPerProject, lookups, cache);
    const locked = lockedWorkspaceDirs(governing, p.pyproject);
    if (locked) {
      for (const dir of locked) {
        const target = byDir.get(dir);
        if (target) addLocked(p.name, target);
      }
      continue;
    }
    if (governing.kind === 'none') unlocked.add(p.name);
    const sourceFile = p.root === '.' ? 'pyproject.toml' : `${p.root}/pyproject.toml`;
    for (const dep of p.pyproject.dependencies) {
      const dist = canonicalizeName(dep.name);
      const source = p.pyproject.uvSources[dist];
      const target = (source?.path && byDir.get(resolve(p.pyproject.dir, source.path))) || byDist.get(dist);
      if (target) add(p.name, target, sourceFile);
    }
  }

  // Each project to the third-party packages its closure holds (external nodes `pypi:<name>`).
  for (const p of projects) {
    const dir = join(context.workspaceRoot, p.root);
    const lockAbs = await findUvLock(dir, context.workspaceRoot, lookups);
    const pylock = p.root === '.' ? 'pylock.toml' : `${p.root}/pylock.toml`;
    const pylockText = options.lockPerProject ? (readCached(join(context.workspaceRoot, pylock)) ?? null) : null;
    const packages = cachedProjectPackages(cache, p.pyproject.name!, dir, lockAbs, options.lockPerProject, pylockText) ?? [];
    const hasPylock = pylockText !== null;
    for (const pkg of packages) {
      const target = `pypi:${pkg.name}`;
      if (!context.externalNodes?.[target]) continue;
      const dep: RawProjectGraphDependency = hasPylock
        ? { source: p.name, target, sourceFile: pylock, type: DependencyType.static }
        : { source: p.name, target, type: DependencyType.implicit };
      validateDependency(dep, context);
      edges.set(`${p.name}\0${target}\0${hasPylock ? pylock : ''}`, dep);
    }
  }

  for (const [project, files] of Object.entries(context.filesToProcess.projectFileMap)) {
    if (!unlocked.has(project)) continue;
    for (const { file } of files) {
      if (!file.endsWith('.py')) continue;
      let text: string;
      try {
        text = readFileSync(join(context.workspaceRoot, file), 'utf8');
      } catch {
        continue;
      }
      for (const module of importedTopLevelModules(text)) {
        const owner = (await owners()).get(module);
        if (owner) add(project, owner, file);
      }
    }
  }
  cache.flush();
  return [...edges.values()].sort((a, b) => {
    const ka = `${a.source}\0${a.target}\0${'sourceFile' in a ? a.sourceFile : ''}`;
    const kb = `${b.source}\0${b.target}\0${'sourceFile' in b ? b.sourceFile : ''}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
};
