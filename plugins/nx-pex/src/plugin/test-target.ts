/**
 * The inferred `test` target of a Python project with tests: `nx-pex:test` runs pytest from the
 * project's test lock. Its inputs are what a test run reads, its output the JUnit report (and
 * coverage data) under `{workspaceRoot}/<reports>/{projectRoot}`.
 */
import { posix } from 'node:path';
import { PYTEST_CONFIG_FILES as CONFIG_FILES, hasTests } from '@nx-pex/engine';
import type { TargetConfiguration } from '../nx-api';
import type { TargetInput } from './self-inputs';

export interface TestTargetSpec {
  projectRoot: string;
  /** Named input of the project's code (and its `^` form for its workspace dependencies). */
  sourcesInput: string;
  /** The lock the run reads, as an input (`{projectRoot}/pylock.test.toml`, …); none when there is none. */
  lockInput?: string;
  /** Inputs that stand for nx-pex itself and the interpreter's identity. */
  self: TargetInput[];
  interpreter: TargetInput;
  /** Workspace-relative directory under which reports go (`reports`). */
  reportsDir: string;
  python?: string;
  storeDir?: string;
  lockPerProject: boolean;
  /** Register the sync generator (the project's locks are generated). */
  sync: boolean;
  name: string;
}

/** The directories from the workspace root down to the project's parent ('' for the root itself). */
function ancestors(projectRoot: string): string[] {
  if (projectRoot === '.' || projectRoot === '') return [];
  const parts = projectRoot.split('/');
  const out = [''];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** The `test` target of a project with tests. */
export function testTarget(s: TestTargetSpec): TargetConfiguration {
  const inputs: TargetInput[] = [
    s.sourcesInput,
    `^${s.sourcesInput}`,
    // Tests, helpers and test data anywhere in the project; pytest's configuration files.
    '{projectRoot}/**/*.py',
    '{projectRoot}/tests/**/*',
    '{projectRoot}/test/**/*',
    ...CONFIG_FILES.map((f) => `{projectRoot}/${f}`),
    '{projectRoot}/.coveragerc',
    '!{projectRoot}/**/__pycache__/**/*',
    '!{projectRoot}/.pytest_cache/**/*',
  ];
  // conftest.py files and pytest configuration up the tree (pytest looks there for its rootdir).
  for (const dir of ancestors(s.projectRoot)) {
    const at = dir === '' ? '{workspaceRoot}' : `{workspaceRoot}/${dir}`;
    inputs.push(`${at}/conftest.py`, ...CONFIG_FILES.map((f) => `${at}/${f}`));
  }
  if (s.lockInput) inputs.push(s.lockInput);
  inputs.push({ env: 'PYTEST_ADDOPTS' }, s.interpreter, ...s.self);
  if (!s.self.some((i) => typeof i === 'object' && 'externalDependencies' in i)) inputs.push({ externalDependencies: [] });
  const reports = s.projectRoot === '.' ? s.reportsDir : posix.join(s.reportsDir, s.projectRoot);
  const options: Record<string, unknown> = { reportsDirectory: reports, lockPerProject: s.lockPerProject };
  if (s.python) options.python = s.python;
  if (s.storeDir) options.storeDir = s.storeDir;
  return {
    executor: 'nx-pex:test',
    options,
    cache: true,
    inputs,
    outputs: [`{workspaceRoot}/${reports}`],
    ...(s.sync ? { syncGenerators: ['nx-pex:sync'] } : {}),
    metadata: {
      technologies: ['python'],
      description: `Run ${s.name}'s tests with pytest from its lock (JUnit report in ${reports}/junit.xml)`,
      help: { command: 'npx nx-pex test --help', example: { args: ['-k', 'name', '-x'] } },
    },
  };
}

export interface InferTestOptions {
  projectDir: string;
  projectRoot: string;
  pyprojectText: string;
  entries: readonly string[];
  name: string;
  sourcesInput: string;
  self: TargetInput[];
  interpreter: TargetInput;
  reportsDir: string;
  python?: string;
  storeDir?: string;
  lockPerProject: boolean;
  /** The workspace-relative uv.lock governing the project, if any. */
  uvLock?: string;
  /** The project brings its own poetry.lock or requirements file (tests from those are not supported). */
  ownLock: boolean;
}

/** The test target of a project, or undefined when it has no tests (or a lock tests cannot run from). */
export function inferTestTarget(o: InferTestOptions): TargetConfiguration | undefined {
  if (o.ownLock || !hasTests(o.projectDir, o.pyprojectText, o.entries)) return undefined;
  const perProject = o.lockPerProject && o.uvLock !== undefined;
  const lockInput = perProject
    ? `{projectRoot}/${o.entries.includes('pylock.test.toml') ? 'pylock.test.toml' : 'pylock.toml'}`
    : o.uvLock !== undefined
      ? `{workspaceRoot}/${o.uvLock}`
      : o.entries.includes('pylock.toml')
        ? '{projectRoot}/pylock.toml'
        : undefined;
  return testTarget({
    projectRoot: o.projectRoot,
    sourcesInput: o.sourcesInput,
    lockInput,
    self: o.self,
    interpreter: o.interpreter,
    reportsDir: o.reportsDir,
    python: o.python,
    storeDir: o.storeDir,
    lockPerProject: o.lockPerProject,
    sync: perProject,
    name: o.name,
  });
}
