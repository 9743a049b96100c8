/**
 * Imports of another workspace project's code that the importing project does not declare: the
 * PEX would not hold that code, so the build stops naming the file, the line and the fix.
 */
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { UserError } from '@nx-pex/pep';
import { collectSources, findImportRoots, type PyProject } from '@nx-pex/project';

/** Top-level modules imported by a Python source, with the 1-based line of each import statement. */
export function importsWithLines(source: string): Array<{ module: string; line: number }> {
  const out: Array<{ module: string; line: number }> = [];
  const lines = source.split(/\r?\n/);
  let inString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    // Skip the inside of triple-quoted strings (docstrings that show import statements).
    if (inString) {
      if (raw.includes(inString)) inString = undefined;
      continue;
    }
    const triple = /^\s*[rbuRBU]*("""|''')/.exec(raw);
    if (triple && raw.split(triple[1]).length === 2) {
      inString = triple[1];
      continue;
    }
    const line = raw.replace(/#.*$/, '').trim();
    let m = /^from\s+([A-Za-z_][\w.]*)\s+import\b/.exec(line);
    if (m) {
      out.push({ module: m[1].split('.')[0], line: i + 1 });
      continue;
    }
    m = /^import\s+(.+)$/.exec(line);
    if (m) {
      for (const part of m[1].replace(/[()\\]/g, '').split(',')) {
        const name = /^\s*([A-Za-z_][\w.]*)/.exec(part);
        if (name) out.push({ module: name[1].split('.')[0], line: i + 1 });
      }
    }
  }
  return out;
}

function show(root: string, path: string): string {
  return relative(root, path).split(sep).join('/') || '.';
}

/**
 * Fails when a `.py` file of `included` (the projects whose code goes into the PEX) imports a
 * top-level module that only a workspace project outside `included` provides. `workspace` lists
 * every project of the workspace; `root` is what paths in the message are relative to.
 */
export async function checkWorkspaceImports(project: PyProject, included: readonly PyProject[], workspace: readonly PyProject[], root: string): Promise<void> {
  const inside = new Set(included.map((p) => p.dir));
  const provided = new Set<string>();
  const owners = new Map<string, PyProject>();
  for (const p of workspace) {
    let roots;
    try {
      roots = await findImportRoots(p);
    } catch {
      continue; // a project without code of its own provides nothing to import
    }
    for (const r of roots) {
      for (const entry of r.entries) {
        const module = entry.replace(/\.py$/, '');
        if (inside.has(p.dir)) provided.add(module);
        else if (!owners.has(module)) owners.set(module, p);
      }
    }
  }
  if (owners.size === 0) return;
  for (const p of included) {
    for (const file of await collectSources(p)) {
      if (!file.path.endsWith('.py')) continue;
      const text = await readFile(file.absPath, 'utf8');
      for (const { module, line } of importsWithLines(text)) {
        if (provided.has(module)) continue;
        const owner = owners.get(module);
        if (!owner) continue;
        const importer = p;
        const dep = owner.name!;
        throw new UserError(
          `${show(root, file.absPath)}:${line}: imports ${module}, which the workspace project ${dep} (${show(root, owner.dir)}) provides, ` +
            `but ${importer.name} does not depend on it, so the PEX of ${project.name} would not hold it. ` +
            `Add "${dep}" to [project] dependencies in ${show(root, join(importer.dir, 'pyproject.toml'))} and, under [tool.uv.sources], ` +
            `${dep} = { workspace = true }; then run \`uv lock\` and \`nx sync\`.`,
        );
      }
    }
  }
}
