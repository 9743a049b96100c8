/** The inferred test target, as createNodes gives it, and the test executor's argument handling. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodes } from '../src';
import { pytestArguments } from '../src/executors/test/executor';

let ws: string;

async function write(rel: string, text: string): Promise<void> {
  await mkdir(join(ws, rel, '..'), { recursive: true });
  await writeFile(join(ws, rel), text);
}

const context = () => ({ nxJsonConfiguration: {}, workspaceRoot: ws });
const files = ['py/pyproject.toml', 'py/lib/core/pyproject.toml', 'py/lib/plain/pyproject.toml', 'py/lib/cfg/pyproject.toml', 'py/svc/api/pyproject.toml'];

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'nx-pex-test-target-'));
  await write('py/pyproject.toml', '[tool.uv.workspace]\nmembers = ["svc/*", "lib/*"]\n');
  await write('py/uv.lock', 'version = 1\n');
  await write('py/lib/core/pyproject.toml', '[project]\nname = "core"\n[dependency-groups]\ntest = ["pytest"]\n');
  await write('py/lib/core/src/core/__init__.py', '');
  await write('py/lib/core/tests/test_core.py', 'def test_x():\n    pass\n');
  await write('py/lib/core/pylock.test.toml', '# generated\n');
  await write('py/lib/plain/pyproject.toml', '[project]\nname = "plain"\n');
  await write('py/lib/plain/src/plain/__init__.py', '');
  await write('py/lib/cfg/pyproject.toml', '[project]\nname = "cfg"\n');
  await write('py/lib/cfg/cfg.py', '');
  await write('py/lib/cfg/setup.cfg', '[metadata]\nname = cfg\n\n[tool:pytest]\naddopts = -q\n');
  await write('py/svc/api/pyproject.toml', '[project]\nname = "api"\n[project.scripts]\napi = "api.main:main"\n[tool.pytest.ini_options]\ntestpaths = ["src"]\n');
  await write('py/svc/api/src/api/__init__.py', '');
});

afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

async function projects(options: Record<string, unknown> = {}) {
  const results = await createNodes[1](files, options, context());
  return Object.fromEntries(results.flatMap(([, r]) => Object.entries(r.projects ?? {}).map(([, p]) => [p.name!, p])));
}

describe('the inferred test target', () => {
  it('is given to projects with tests (tests/, [tool:pytest] in setup.cfg, [tool.pytest.ini_options]) and to no other', async () => {
    const p = await projects();
    expect(Object.keys(p.core.targets!)).toEqual(['test']);
    expect(Object.keys(p.cfg.targets!)).toEqual(['test']);
    expect(Object.keys(p.api.targets!).sort()).toEqual(['build', 'test']);
    expect(p.plain.targets).toEqual({});
  });

  it('runs nx-pex:test, cached, with the test lock, the code of the project and its dependencies, conftest.py files up the tree and PYTEST_ADDOPTS as inputs', async () => {
    const t = (await projects()).core.targets!.test;
    expect(t.executor).toBe('nx-pex:test');
    expect(t.cache).toBe(true);
    expect(t.options).toEqual({ reportsDirectory: 'reports/py/lib/core', lockPerProject: true });
    expect(t.outputs).toEqual(['{workspaceRoot}/reports/py/lib/core']);
    expect(t.syncGenerators).toEqual(['nx-pex:sync']);
    expect(t.inputs).toEqual(
      expect.arrayContaining([
        'python-sources',
        '^python-sources',
        '{projectRoot}/**/*.py',
        '{projectRoot}/tests/**/*',
        '{projectRoot}/pylock.test.toml',
        '{workspaceRoot}/conftest.py',
        '{workspaceRoot}/py/conftest.py',
        '{workspaceRoot}/py/lib/conftest.py',
        '{workspaceRoot}/py/pyproject.toml',
        '{projectRoot}/setup.cfg',
        '{projectRoot}/tox.ini',
        '{projectRoot}/pytest.ini',
        { env: 'PYTEST_ADDOPTS' },
        { runtime: expect.stringMatching(/^python3 -c /) },
        { externalDependencies: ['nx-pex'] },
      ]),
    );
    expect(t.inputs).not.toContain('{projectRoot}/pylock.toml');
    // Without a test lock (no test group in the uv.lock), the project's pylock.toml.
    expect((await projects()).cfg.targets!.test.inputs).toContain('{projectRoot}/pylock.toml');
  });

  it("covers every file a workspace project's dist-info in the test environment is made from, its own and its dependencies'", async () => {
    // A version its backend reads from a file: the file, and what the backend copies into METADATA, are inputs.
    await write(
      'py/lib/core/pyproject.toml',
      '[project]\nname = "core"\ndynamic = ["version"]\nreadme = "README.md"\n[dependency-groups]\ntest = ["pytest"]\n' +
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[tool.hatch.version]\npath = "src/core/__about__.py"\n',
    );
    await write('py/lib/core/src/core/__about__.py', '__version__ = "1.0"\n');
    await write('py/lib/core/README.md', 'core\n');
    const core = (await projects()).core;
    expect(core.namedInputs!['python-sources']).toEqual(
      expect.arrayContaining(['{projectRoot}/pyproject.toml', '{projectRoot}/src/core/__about__.py', '{projectRoot}/README.md']),
    );
    // The test target takes them for the project and, through ^, for each workspace dependency.
    expect(core.targets!.test.inputs).toEqual(expect.arrayContaining(['python-sources', '^python-sources']));
  });

  it('takes its name, reports directory and interpreter from the plugin options', async () => {
    const p = await projects({ testTargetName: 'pytest', testReportsDirectory: 'out/tests/', python: 'python3.11', lockPerProject: false });
    const t = p.core.targets!.pytest;
    expect(t.options).toEqual({ reportsDirectory: 'out/tests/py/lib/core', lockPerProject: false, python: 'python3.11' });
    expect(t.outputs).toEqual(['{workspaceRoot}/out/tests/py/lib/core']);
    expect(t.inputs).toContain('{workspaceRoot}/py/uv.lock');
    expect(t.inputs).toContainEqual({ runtime: expect.stringMatching(/^python3\.11 -c /) });
    expect(t.syncGenerators).toBeUndefined();
    await expect(createNodes[1](files, { testReportsDirectory: '../x' }, context())).rejects.toThrow(/testReportsDirectory.*inside the workspace/);
  });
});

describe("the test executor's pytest arguments", () => {
  it('are the target args (a list, or a string split as a shell would), then those after --', () => {
    expect(pytestArguments({ args: ['-q'], pytestArgs: ['-k', 'foo', '-x'] })).toEqual(['-q', '-k', 'foo', '-x']);
    expect(pytestArguments({ args: '-m "not slow" --maxfail=2' })).toEqual(['-m', 'not slow', '--maxfail=2']);
    expect(pytestArguments({})).toEqual([]);
  });
});
