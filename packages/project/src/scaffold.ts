/**
 * The files of a new Python project in a uv workspace (PEP 621 `pyproject.toml`, src layout, a
 * console script for a service, a passing test and pytest in a `test` dependency group), and the edit that adds it to the workspace's members.
 */
import { posix } from 'node:path';
import { canonicalizeName } from '@nx-pex/pep';

export interface PythonProjectSpec {
  /** The distribution name. */
  name: string;
  kind: 'service' | 'library';
  /** Workspace-relative posix directory of the project. */
  root: string;
  requiresPython: string;
  /** Requirements as written in `[project] dependencies`. */
  dependencies: string[];
  /** Those of `dependencies` that name workspace projects (they get a `[tool.uv.sources]` entry). */
  workspaceDependencies: string[];
}

/** The import package of a distribution name. */
export function importPackageOf(name: string): string {
  return canonicalizeName(name).replace(/-/g, '_');
}

const requirementName = (req: string) => canonicalizeName(req.split(/[\s<>=!~;[]/)[0]!);

/** Path (workspace-relative) → text of every file of a new project. */
export function pythonProjectFiles(spec: PythonProjectSpec): Record<string, string> {
  const { name, kind, root } = spec;
  const pkg = importPackageOf(name);
  const lines = [
    '[project]',
    `name = "${name}"`,
    'version = "0.1.0"',
    `description = "${kind === 'service' ? 'A service' : 'A library'} of this workspace."`,
    'readme = "README.md"',
    `requires-python = "${spec.requiresPython}"`,
    `dependencies = [${spec.dependencies.map((d) => JSON.stringify(d)).join(', ')}]`,
  ];
  if (kind === 'service') lines.push('', '[project.scripts]', `${name} = "${pkg}.main:main"`);
  if (spec.workspaceDependencies.length) {
    lines.push('', '[tool.uv.sources]', ...spec.workspaceDependencies.map((d) => `${requirementName(d)} = { workspace = true }`));
  }
  // pytest in a PEP 735 test group: the generated test runs with `nx test <name>` (or `uv run pytest`).
  lines.push('', '[dependency-groups]', 'test = ["pytest>=8"]');
  lines.push('', '[build-system]', 'requires = ["hatchling"]', 'build-backend = "hatchling.build"', '', '[tool.hatch.build.targets.wheel]', `packages = ["src/${pkg}"]`);
  const at = (...parts: string[]) => posix.join(root, ...parts);
  const files: Record<string, string> = {
    [at('pyproject.toml')]: `${lines.join('\n')}\n`,
    [at('README.md')]: `# ${name}\n\n${kind === 'service' ? `Build it into \`dist/${root}/${name}.pex\` with \`nx build ${name}\`.` : 'A library of this workspace.'}\n`,
  };
  if (kind === 'service') {
    files[at('src', pkg, '__init__.py')] = `"""${name}."""\n`;
    files[at('src', pkg, 'main.py')] =
      `"""Command-line entry point of ${name}."""\n\nimport sys\n\n\ndef message() -> str:\n    return "Hello from ${name}!"\n\n\n` +
      `def main() -> int:\n    print(message())\n    return 0\n\n\nif __name__ == "__main__":\n    sys.exit(main())\n`;
    files[at('tests', 'test_main.py')] = `from ${pkg}.main import message\n\n\ndef test_message() -> None:\n    assert message() == "Hello from ${name}!"\n`;
  } else {
    files[at('src', pkg, '__init__.py')] = `"""${name}."""\n\n\ndef hello(name: str) -> str:\n    return f"Hello from ${name}, {name}!"\n`;
    files[at('tests', `test_${pkg}.py`)] = `from ${pkg} import hello\n\n\ndef test_hello() -> None:\n    assert hello("x") == "Hello from ${name}, x!"\n`;
  }
  return files;
}

/** Whether a member glob of [tool.uv.workspace] covers a directory (`*` matches one path segment). */
export function memberCovers(pattern: string, dir: string): boolean {
  const re = new RegExp(`^${pattern.replace(/\/+$/, '').split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return re.test(dir);
}

/** Adds `member` to the `members` array of [tool.uv.workspace] in the text of a pyproject.toml. */
export function addWorkspaceMember(text: string, member: string): string {
  const m = /(\[tool\.uv\.workspace\][^[]*?members\s*=\s*\[)([^\]]*)\]/s.exec(text);
  if (!m) return text.replace(/\[tool\.uv\.workspace\][^\n]*\n/, (h) => `${h}members = [${JSON.stringify(member)}]\n`);
  const inner = m[2]!.trim().replace(/,\s*$/, '');
  const next = inner ? `${m[2]!.replace(/\s*,?\s*$/, '')}, ${JSON.stringify(member)}` : JSON.stringify(member);
  return text.slice(0, m.index) + `${m[1]}${next}]` + text.slice(m.index + m[0].length);
}
