/**
 * Shared plumbing for the tests that drive the compiled `nx-pex` CLI: running it in a child
 * process, writing small uv.lock files and workspaces, listing files, and copying fixture wheels
 * (such as the pinned pex runtime wheel) out of the fixture cache. Not a test file itself.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PINNED_PEX } from '@nx-pex/pex';

export const exec = promisify(execFile);

/** The repository's root directory. */
export const REPO = join(__dirname, '..', '..', '..');

/** The bundled CLI, built by `npm run build` (npm test's pretest runs it). */
export const CLI = join(__dirname, '..', 'lib', 'cli.js');

/** Real wheels fetched by `python3 tools/fixtures/fetch.py`, including the pinned pex wheel. */
export const FIXTURE_WHEELS = join(REPO, '.cache', 'wheels');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Throws with what to run when the CLI has not been compiled. */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) first.`);
}

/**
 * The environment of a CLI run: this process's, with the machine's pip configuration
 * (config file, find-links) switched off, then `env` on top.
 */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PIP_CONFIG_FILE: '/dev/null', PIP_FIND_LINKS: '', ...env };
}

/** Runs the compiled CLI with `args`; a non-zero exit is returned, not thrown. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cliEnv(opts.env) });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A wheel file as a lock records it. */
export interface WheelFile {
  filename: string;
  sha256: string;
  size: number;
}

export interface LockedWheel {
  name: string;
  /** Defaults to "1.0". */
  version?: string;
  file: WheelFile;
  /** Overrides `<registry without /simple>/files/<filename>`. */
  url?: string;
  /** Overrides the file's own hash (to lock a wrong one). */
  sha256?: string;
}

/**
 * A uv.lock text: the editable workspace project `project` (default "app") depending on
 * `dependencies`, with `requiresDist` as its [package.metadata] when given, and one registry
 * package per locked wheel.
 */
export function uvLockText(opts: {
  project?: string;
  dependencies: string[];
  requiresDist?: Array<{ name: string; specifier: string }>;
  registry: string;
  wheels: LockedWheel[];
}): string {
  const project = opts.project ?? 'app';
  const lines = [
    'version = 1',
    'revision = 3',
    'requires-python = ">=3.8"',
    '',
    '[[package]]',
    `name = "${project}"`,
    'version = "0.1.0"',
    `source = { editable = "${project}" }`,
    `dependencies = [${opts.dependencies.map((d) => `{ name = "${d}" }`).join(', ')}]`,
  ];
  if (opts.requiresDist) {
    const reqs = opts.requiresDist.map((r) => `{ name = "${r.name}", specifier = "${r.specifier}" }`).join(', ');
    lines.push('', '[package.metadata]', `requires-dist = [${reqs}]`);
  }
  for (const w of opts.wheels) {
    const url = w.url ?? `${opts.registry.replace(/\/simple$/, '')}/files/${w.file.filename}`;
    lines.push(
      '',
      '[[package]]',
      `name = "${w.name}"`,
      `version = "${w.version ?? '1.0'}"`,
      `source = { registry = "${opts.registry}" }`,
      `wheels = [{ url = "${url}", hash = "sha256:${w.sha256 ?? w.file.sha256}", size = ${w.file.size} }]`,
    );
  }
  return lines.join('\n') + '\n';
}

/** A pyproject.toml for `name` with `dependencies` and one console script `<name> = "<name>.main:main"`. */
export function projectToml(name: string, dependencies: string[]): string {
  const deps = dependencies.map((d) => `"${d}"`).join(', ');
  return `[project]\nname = "${name}"\nversion = "0.1.0"\ndependencies = [${deps}]\n\n[project.scripts]\n${name} = "${name}.main:main"\n`;
}

/**
 * Writes a workspace at `ws`: `<project>/pyproject.toml`, the package `<project>/src/<project>/`
 * (an empty `__init__.py` plus `sources`, paths relative to the package), `uv.lock`, and a root
 * pyproject.toml when given. Returns `ws`.
 */
export async function writeWorkspace(
  ws: string,
  opts: { project?: string; pyproject: string; sources: Record<string, string>; lock: string; rootPyproject?: string },
): Promise<string> {
  const project = opts.project ?? 'app';
  const pkg = join(ws, project, 'src', project);
  await mkdir(pkg, { recursive: true });
  await writeFile(join(ws, project, 'pyproject.toml'), opts.pyproject);
  for (const [path, text] of Object.entries({ '__init__.py': '', ...opts.sources })) {
    await mkdir(dirname(join(pkg, path)), { recursive: true });
    await writeFile(join(pkg, path), text);
  }
  if (opts.rootPyproject) await writeFile(join(ws, 'pyproject.toml'), opts.rootPyproject);
  await writeFile(join(ws, 'uv.lock'), opts.lock);
  return ws;
}

/** Every file under `dir`, recursively; none when `dir` does not exist. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

/** Copies `filename` from the fixture cache into `dir`; throws with what to run when it is not there. */
export async function copyFixtureWheel(dir: string, filename: string): Promise<void> {
  const cached = join(FIXTURE_WHEELS, filename);
  if (!existsSync(cached)) throw new Error(`${cached} is missing: run \`python3 tools/fixtures/fetch.py\` first.`);
  await mkdir(dir, { recursive: true });
  await copyFile(cached, join(dir, filename));
}

/** Copies the pinned pex wheel (the PEX runtime) into `dir`, for an index to serve. */
export function copyPinnedPex(dir: string): Promise<void> {
  return copyFixtureWheel(dir, PINNED_PEX.filename);
}
