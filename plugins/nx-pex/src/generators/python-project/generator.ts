/**
 * `nx g nx-pex:python-service NAME` and `nx g nx-pex:python-library NAME`: a PEP 621 project in
 * src layout (a console script for a service), with a test, added to the uv workspace's members;
 * `uv lock` runs afterwards when uv is on PATH.
 */
import { spawnSync } from 'node:child_process';
import { posix } from 'node:path';
import { formatFiles, glob, logger, type GeneratorCallback, type Tree } from '@nx/devkit';
import { canonicalizeName, UserError } from '@nx-pex/pep';
import { parsePyproject } from '@nx-pex/project';

export interface PythonProjectOptions {
  name: string;
  /** Where the project goes, relative to the uv workspace root; default `services` or `libs`. */
  directory?: string;
  /** The uv workspace root (the directory of the pyproject.toml with [tool.uv.workspace]); default: found in the tree. */
  workspace?: string;
  /** Requirements: a workspace project's name becomes a workspace dependency; anything else a third-party requirement. */
  dependencies?: string[] | string;
  /** Do not run `uv lock`. */
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

/** Whether a member glob of [tool.uv.workspace] covers a directory (`*` matches one path segment). */
function memberCovers(pattern: string, dir: string): boolean {
  const re = new RegExp(`^${pattern.replace(/\/+$/, '').split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return re.test(dir);
}

/** Adds `member` to the `members` array of [tool.uv.workspace] in the text of a pyproject.toml. */
function addMember(text: string, member: string): string {
  const m = /(\[tool\.uv\.workspace\][^[]*?members\s*=\s*\[)([^\]]*)\]/s.exec(text);
  if (!m) return text.replace(/\[tool\.uv\.workspace\][^\n]*\n/, (h) => `${h}members = [${JSON.stringify(member)}]\n`);
  const inner = m[2].trim().replace(/,\s*$/, '');
  const next = inner ? `${m[2].replace(/\s*,?\s*$/, '')}, ${JSON.stringify(member)}` : JSON.stringify(member);
  return text.slice(0, m.index) + `${m[1]}${next}]` + text.slice(m.index + m[0].length);
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
  const pkg = dist.replace(/-/g, '_');
  if (!/^[a-z_][a-z0-9_]*$/.test(pkg)) throw new UserError(`"${name}" does not give a valid Python package name (${pkg}).`);
  const ws = findUvWorkspace(tree, options.workspace);
  const projects = workspaceProjects(tree, ws);
  if (projects.has(dist)) throw new UserError(`A project named ${dist} already exists in ${projects.get(dist)}.`);
  const sub = posix.join(options.directory ?? (kind === 'service' ? 'services' : 'libs'), name);
  const root = ws.dir === '.' ? sub : posix.join(ws.dir, sub);
  if (tree.exists(posix.join(root, 'pyproject.toml'))) throw new UserError(`${root}/pyproject.toml already exists.`);

  const deps = (typeof options.dependencies === 'string' ? options.dependencies.split(',') : (options.dependencies ?? [])).map((d) => d.trim()).filter(Boolean);
  const workspaceDeps = deps.filter((d) => projects.has(canonicalizeName(d.split(/[\s<>=!~;[]/)[0])));
  const lines = [
    '[project]',
    `name = "${name}"`,
    'version = "0.1.0"',
    `description = "${kind === 'service' ? 'A service' : 'A library'} of this workspace."`,
    'readme = "README.md"',
    `requires-python = "${ws.requiresPython ?? '>=3.11'}"`,
    `dependencies = [${deps.map((d) => JSON.stringify(d)).join(', ')}]`,
  ];
  if (kind === 'service') lines.push('', '[project.scripts]', `${name} = "${pkg}.main:main"`);
  if (workspaceDeps.length) {
    lines.push('', '[tool.uv.sources]', ...workspaceDeps.map((d) => `${canonicalizeName(d.split(/[\s<>=!~;[]/)[0])} = { workspace = true }`));
  }
  lines.push('', '[build-system]', 'requires = ["hatchling"]', 'build-backend = "hatchling.build"', '', '[tool.hatch.build.targets.wheel]', `packages = ["src/${pkg}"]`);
  tree.write(posix.join(root, 'pyproject.toml'), `${lines.join('\n')}\n`);
  tree.write(posix.join(root, 'README.md'), `# ${name}\n\n${kind === 'service' ? `Build it into \`dist/${root}/${name}.pex\` with \`nx build ${name}\`.` : 'A library of this workspace.'}\n`);
  if (kind === 'service') {
    tree.write(posix.join(root, 'src', pkg, '__init__.py'), `"""${name}."""\n`);
    tree.write(
      posix.join(root, 'src', pkg, 'main.py'),
      `"""Command-line entry point of ${name}."""\n\nimport sys\n\n\ndef message() -> str:\n    return "Hello from ${name}!"\n\n\ndef main() -> int:\n    print(message())\n    return 0\n\n\nif __name__ == "__main__":\n    sys.exit(main())\n`,
    );
    tree.write(posix.join(root, 'tests', 'test_main.py'), `from ${pkg}.main import message\n\n\ndef test_message() -> None:\n    assert message() == "Hello from ${name}!"\n`);
  } else {
    tree.write(posix.join(root, 'src', pkg, '__init__.py'), `"""${name}."""\n\n\ndef hello(name: str) -> str:\n    return f"Hello from ${name}, {name}!"\n`);
    tree.write(posix.join(root, 'tests', `test_${pkg}.py`), `from ${pkg} import hello\n\n\ndef test_hello() -> None:\n    assert hello("x") == "Hello from ${name}, x!"\n`);
  }
  if (!ws.members.some((m) => memberCovers(m, sub))) {
    tree.write(ws.file, addMember(tree.read(ws.file, 'utf-8')!, sub));
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
      logger.warn(`nx-pex: uv is not on PATH, so ${wsDir}/uv.lock does not cover ${name} yet: run \`uv lock\` in ${wsDir}, then \`nx sync\`.`);
    } else if (uv.status !== 0) {
      logger.warn(`nx-pex: \`uv lock\` in ${wsDir} failed (exit ${uv.status}); fix it and run it again, then \`nx sync\`.`);
    }
  };
}
