import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DependencyType, validateDependency, type CreateDependencies, type RawProjectGraphDependency } from '@nx/devkit';
import { canonicalizeName } from '@nx-pex/pep';
import { findImportRoots, importedTopLevelModules, parsePyproject, type PyProject } from '@nx-pex/project';
import type { NxPexPluginOptions } from './options';

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

/**
 * Edges between Python projects: a declared dependency on another workspace project (by
 * distribution name or `[tool.uv.sources]` path), and an import of a top-level module that
 * another workspace project provides. Only the files Nx says changed are scanned for imports;
 * Nx keeps the edges of the others.
 */
export const createDependencies: CreateDependencies<NxPexPluginOptions> = async (_options, context) => {
  const projects = pythonProjects(context.workspaceRoot, context.projects);
  const byDist = new Map<string, string>();
  const byDir = new Map<string, string>();
  for (const p of projects) {
    byDist.set(p.pyproject.canonicalName!, p.name);
    byDir.set(p.pyproject.dir, p.name);
  }
  const edges = new Map<string, RawProjectGraphDependency>();
  const add = (source: string, target: string, sourceFile: string) => {
    if (source === target) return;
    const dep: RawProjectGraphDependency = { source, target, sourceFile, type: DependencyType.static };
    validateDependency(dep, context);
    edges.set(`${source}\0${target}\0${sourceFile}`, dep);
  };

  for (const p of projects) {
    const sourceFile = p.root === '.' ? 'pyproject.toml' : `${p.root}/pyproject.toml`;
    for (const dep of p.pyproject.dependencies) {
      const dist = canonicalizeName(dep.name);
      const source = p.pyproject.uvSources[dist];
      const target = (source?.path && byDir.get(resolve(p.pyproject.dir, source.path))) || byDist.get(dist);
      if (target) add(p.name, target, sourceFile);
    }
  }

  const owners = new Map<string, string | null>();
  for (const p of projects) {
    let roots;
    try {
      roots = await findImportRoots(p.pyproject);
    } catch {
      continue;
    }
    for (const root of roots) {
      for (const entry of root.entries) {
        const module = entry.replace(/\.py$/, '');
        // A module name two projects provide says nothing about which one is meant.
        owners.set(module, owners.has(module) && owners.get(module) !== p.name ? null : p.name);
      }
    }
  }
  const pythonNames = new Set(projects.map((p) => p.name));
  for (const [project, files] of Object.entries(context.filesToProcess.projectFileMap)) {
    if (!pythonNames.has(project)) continue;
    for (const { file } of files) {
      if (!file.endsWith('.py')) continue;
      let text: string;
      try {
        text = readFileSync(join(context.workspaceRoot, file), 'utf8');
      } catch {
        continue;
      }
      for (const module of importedTopLevelModules(text)) {
        const owner = owners.get(module);
        if (owner) add(project, owner, file);
      }
    }
  }
  return [...edges.values()].sort((a, b) => {
    const ka = `${a.source}\0${a.target}\0${'sourceFile' in a ? a.sourceFile : ''}`;
    const kb = `${b.source}\0${b.target}\0${'sourceFile' in b ? b.sourceFile : ''}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
};
