/**
 * Mistakes in how workspace projects depend on each other, reported by the build of the project
 * they concern (the graph is computed regardless): a workspace dependency on a project that does
 * not exist, two projects with one distribution name, and a dependency cycle.
 */
import { join, relative, sep } from 'node:path';
import { canonicalizeName, UserError } from '@nx-pex/pep';
import type { PyProject } from '@nx-pex/project';

function show(root: string, path: string): string {
  return relative(root, path).split(sep).join('/') || '.';
}

/** Workspace dependencies of a project: `[project] dependencies` entries that name a workspace project, or `{ workspace = true }` sources. */
function workspaceDeps(p: PyProject, names: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const req of p.dependencies) {
    const n = canonicalizeName(req.name);
    if (names.has(n) || p.uvSources[n]?.workspace) out.add(n);
  }
  return [...out].sort();
}

/**
 * Checks `project` against every project of the workspace (`workspace`, the project itself
 * included or not); `root` is what paths in messages are relative to.
 */
export function checkWorkspaceDependencies(project: PyProject, workspace: readonly PyProject[], root: string): void {
  const all = [project, ...workspace.filter((p) => p.dir !== project.dir)].filter((p) => p.canonicalName);
  const byName = new Map<string, PyProject[]>();
  for (const p of all) byName.set(p.canonicalName!, [...(byName.get(p.canonicalName!) ?? []), p]);
  const twins = byName.get(project.canonicalName!) ?? [];
  if (twins.length > 1) {
    throw new UserError(
      `Two workspace projects are named ${project.canonicalName}: ${twins.map((p) => show(root, p.file)).join(' and ')}. ` +
        `Distribution names must be unique in a workspace; rename one ([project] name) and run \`uv lock\`.`,
    );
  }
  const names = new Set(byName.keys());
  for (const n of workspaceDeps(project, names)) {
    if (!names.has(n)) {
      throw new UserError(
        `${show(root, project.file)}: ${project.name} depends on the workspace project ${n} ([tool.uv.sources] ${n} = { workspace = true }), ` +
          `but no project of the workspace is named ${n} (projects: ${[...names].sort().join(', ')}). Fix the name, or create it (nx g nx-pex:python-library ${n}), then run \`uv lock\`.`,
      );
    }
  }
  // A cycle through the project, found by a depth-first walk from it.
  const path: string[] = [];
  const done = new Set<string>();
  const visit = (n: string): string[] | undefined => {
    const i = path.indexOf(n);
    if (i >= 0) return [...path.slice(i), n];
    if (done.has(n)) return undefined;
    const p = byName.get(n)?.[0];
    if (!p) return undefined;
    path.push(n);
    for (const d of workspaceDeps(p, names)) {
      const cycle = visit(d);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(n);
    return undefined;
  };
  const cycle = visit(project.canonicalName!);
  if (cycle && cycle.includes(project.canonicalName!)) {
    const files = cycle.slice(0, -1).map((n) => show(root, join(byName.get(n)![0].dir, 'pyproject.toml')));
    throw new UserError(
      `A dependency cycle between workspace projects: ${cycle.join(' -> ')} (${files.join(', ')}). ` +
        `Break it: move what both sides need into a library of its own, and run \`uv lock\`.`,
    );
  }
}
