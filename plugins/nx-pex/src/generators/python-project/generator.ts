/**
 * `nx g nx-pex:python-service NAME` and `nx g nx-pex:python-library NAME`: a PEP 621 project in
 * src layout (a console script for a service), with a test, added to the uv workspace's members;
 * `uv lock` runs afterwards when uv is on PATH, then the sync (each project's pylock.toml). A
 * dependency that is no workspace project is taken from the package index only when confirmed
 * (`--allow-external`).
 */
import { spawnSync } from 'node:child_process';
import { posix } from 'node:path';
import { formatFiles, glob, logger, type GeneratorCallback, type Tree } from '../../nx-api';
import { canonicalizeName, UserError } from '@nx-pex/pep';
import { syncProjectLocksOnDisk } from '../sync/generator';
import { addWorkspaceMember, importPackageOf, memberCovers, parsePyproject, pythonProjectFiles } from '@nx-pex/project';

export interface PythonProjectOptions {
  name: string;
  /** Where the project goes, relative to the uv workspace root; default `services` or `libs`. */
  directory?: string;
  /** The uv workspace root (the directory of the pyproject.toml with [tool.uv.workspace]); default: found in the tree. */
  workspace?: string;
  /** Requirements: a workspace project's name becomes a workspace dependency; anything else a third-party requirement. */
  dependencies?: string[] | string;
  /** Confirms that `dependencies` naming no workspace project are third-party packages from the index. */
  allowExternal?: boolean;
  /** Do not run `uv lock` (nor the sync after it). */
  skipLock?: boolean;
  skipFormat?: boolean;
}

interface UvWorkspace {
  /** Workspace-relative posix directory ('.' for the root). */
  dir: string;
  file: string;
  members: string[];
  requiresPython?: string;
}

function findUvWorkspace(tree: Tree, given?: string): UvWorkspace {
  const candidates = given !== undefined ? [posix.join(given, 'pyproject.toml')] : ['pyproject.toml', ...glob(tree, ['**/pyproject.toml']).sort()];
  for (const file of candidates) {
    const text = tree.read(file, 'utf-8');
    if (text === null) continue;
    let parsed;
    try {
      parsed = parsePyproject(text, file);
    } catch {
      continue;
    }
    if (parsed.uvWorkspace) {
      const dir = posix.dirname(file);
      return { dir, file, members: parsed.uvWorkspace.members, requiresPython: parsed.requiresPython };
    }
  }
  throw new UserError(
    given !== undefined
      ? `${posix.join(given, 'pyproject.toml')} has no [tool.uv.workspace] table: point --workspace at the root of a uv workspace.`
      : `No uv workspace found (a pyproject.toml with [tool.uv.workspace]). Create one, e.g. a pyproject.toml with [tool.uv.workspace] members = ["services/*", "libs/*"], or pass --workspace.`,
  );
}

function workspaceProjects(tree: Tree, ws: UvWorkspace): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of glob(tree, [ws.dir === '.' ? '**/pyproject.toml' : `${ws.dir}/**/pyproject.toml`])) {
    try {
      const p = parsePyproject(tree.read(file, 'utf-8') ?? '', file);
      if (p.canonicalName) out.set(p.canonicalName, posix.dirname(file));
    } catch {
      /* a broken project is not a dependency to offer */
    }
  }
  return out;
}

export async function pythonProjectGenerator(tree: Tree, options: PythonProjectOptions, kind: 'service' | 'library'): Promise<GeneratorCallback | undefined> {
  const name = options.name?.trim();
  if (!name || !/^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/.test(name)) {
    throw new UserError(`"${options.name}" is not a valid Python distribution name: use letters, digits, '-', '_' and '.'.`);
  }
  const dist = canonicalizeName(name);
  const pkg = importPackageOf(name);
  if (!/^[a-z_][a-z0-9_]*$/.test(pkg)) throw new UserError(`"${name}" does not give a valid Python package name (${pkg}).`);
  const ws = findUvWorkspace(tree, options.workspace);
  const projects = workspaceProjects(tree, ws);
  if (projects.has(dist)) throw new UserError(`A project named ${dist} already exists in ${projects.get(dist)}.`);
  const sub = posix.join(options.directory ?? (kind === 'service' ? 'services' : 'libs'), name);
  const root = ws.dir === '.' ? sub : posix.join(ws.dir, sub);
  if (tree.exists(posix.join(root, 'pyproject.toml'))) throw new UserError(`${root}/pyproject.toml already exists.`);

  const deps = (typeof options.dependencies === 'string' ? options.dependencies.split(',') : (options.dependencies ?? [])).map((d) => d.trim()).filter(Boolean);
  const workspaceDeps = deps.filter((d) => projects.has(canonicalizeName(d.split(/[\s<>=!~;[@]/)[0])));
  const external = deps.filter((d) => !workspaceDeps.includes(d));
  if (external.length && !options.allowExternal) {
    const known = [...projects.keys()].sort();
    throw new UserError(
      `--dependencies names ${external.map((d) => `"${d}"`).join(', ')}, which ${external.length === 1 ? 'is' : 'are'} not ${external.length === 1 ? 'a project' : 'projects'} of this workspace ` +
        `(its projects: ${known.join(', ') || 'none yet'}), so ${external.length === 1 ? 'it' : 'they'} would be taken from the package index. ` +
        `If that is what you want, run again with --allow-external; if you meant a workspace library, create it first (nx g nx-pex:python-library NAME).`,
    );
  }
  const files = pythonProjectFiles({ name, kind, root, requiresPython: ws.requiresPython ?? '>=3.11', dependencies: deps, workspaceDependencies: workspaceDeps });
  for (const [path, text] of Object.entries(files)) tree.write(path, text);
  if (!ws.members.some((m) => memberCovers(m, sub))) {
    tree.write(ws.file, addWorkspaceMember(tree.read(ws.file, 'utf-8')!, sub));
  }
  if (!options.skipFormat) await formatFiles(tree);

  const wsDir = ws.dir;
  return () => {
    if (options.skipLock) {
      logger.info(`nx-pex: ${name} added; run \`uv lock\` in ${wsDir} and then \`nx sync\`.`);
      return;
    }
    const uv = spawnSync('uv', ['lock'], { cwd: posix.join(tree.root, wsDir), stdio: 'inherit' });
    if (uv.error && (uv.error as NodeJS.ErrnoException).code === 'ENOENT') {
      logger.warn(
        `nx-pex: uv is not on PATH, so ${wsDir}/uv.lock does not cover ${name} yet. nx-pex needs uv to lock a uv workspace: ` +
          `install it (\`curl -LsSf https://astral.sh/uv/install.sh | sh\`, or \`pipx install uv\`), then run \`uv lock\` in ${wsDir} and \`nx sync\`.`,
      );
    } else if (uv.status !== 0) {
      logger.warn(`nx-pex: \`uv lock\` in ${wsDir} failed (exit ${uv.status}); fix it and run it again, then \`nx sync\`.`);
    } else {
      // The new project's pylock.toml (and any other the new uv.lock changes), as `nx sync` would write them.
      const report = syncProjectLocksOnDisk(tree.root);
      if (report.written.length) logger.info(`nx-pex: wrote ${report.written.join(', ')} from the uv.lock (the sync; commit them).`);
      for (const p of report.problems) logger.warn(`nx-pex: ${p}`);
    }
  };
}
